"""request_code(ttl=): from one second to a day, both ends included, and a refusal that
says so."""

import datetime as dt

import pytest
import time_machine

from django_xunchen.exceptions import XunchenValidationError
from django_xunchen.models import VerificationCode
from django_xunchen.verification import request_code
from django_xunchen.verification.codes import MAX_TTL

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
NOW = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("ttl", [1, MAX_TTL])
def test_a_ttl_at_either_end_is_taken(xunchen_outbox, ttl):
    with time_machine.travel(NOW, tick=False):
        assert request_code(NUMBER, "login", code="123456", ttl=ttl).sent
    assert VerificationCode.objects.get().expires_at == NOW + dt.timedelta(seconds=ttl)


@pytest.mark.parametrize("ttl", [0, MAX_TTL + 1])
def test_a_ttl_past_either_end_is_refused_saying_what_is_taken(xunchen_outbox, ttl):
    with pytest.raises(XunchenValidationError) as refused:
        request_code(NUMBER, "login", code="123456", ttl=ttl)
    assert str(refused.value) == f"ttl is a whole number of seconds, from 1 to 86400, not {ttl}"
    assert xunchen_outbox == []
