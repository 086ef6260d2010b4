"""A code another package made (django-allauth, django-two-factor-auth) goes out through
the same throttles, masking and log as the app's own, is checked like one, and is never
sent again in place of a new one."""

import pytest

from django_xunchen.exceptions import XunchenValidationError
from django_xunchen.models import Message, ThrottleEvent, VerificationCode
from django_xunchen.verification import CheckStatus, RequestStatus, check_code, request_code

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"


def test_the_callers_code_goes_out_masked_and_hashed(xunchen_outbox, codes, code_nowhere):
    result = request_code(NUMBER, "allauth.login", code="4826", ttl=900)
    assert result.status == RequestStatus.SENT
    assert "4826" in xunchen_outbox[0].content and "15分钟" in xunchen_outbox[0].content
    message = Message.objects.get()
    assert (message.kind, message.masked) == ("verification", True)
    assert "4826" not in message.content and "●●●●" in message.content
    record = VerificationCode.objects.get()
    assert record.nonce == "" and "4826" not in record.code_hash
    assert (record.expires_at - record.created_at).total_seconds() == pytest.approx(900, abs=1)
    code_nowhere("4826")
    assert check_code(NUMBER, "4826", "allauth.login").verified


def test_the_callers_code_is_under_the_cooldown(xunchen_outbox, codes):
    codes(COOLDOWN=60)
    assert request_code(NUMBER, "two_factor", code="111111").sent
    again = request_code(NUMBER, "two_factor", code="222222")
    assert again.status == RequestStatus.THROTTLED and again.retry_after > 0
    assert len(xunchen_outbox) == 1
    assert list(ThrottleEvent.objects.values_list("outcome", flat=True).order_by("id")) == [
        ThrottleEvent.Outcome.SENT,
        ThrottleEvent.Outcome.THROTTLED,
    ]


def test_a_new_code_replaces_a_given_one_rather_than_resending_it(xunchen_outbox, codes):
    request_code(NUMBER, "allauth.login", code="111111")
    request_code(NUMBER, "allauth.login", code="222222")
    assert "222222" in xunchen_outbox[1].content and "111111" not in xunchen_outbox[1].content
    request_code(NUMBER, "allauth.login")
    own = xunchen_outbox[2].content
    assert "111111" not in own and "222222" not in own
    assert check_code(NUMBER, "222222", "allauth.login").status == CheckStatus.WRONG
    request_code(NUMBER, "allauth.login", code="333333")
    assert "333333" in xunchen_outbox[3].content
    assert check_code(NUMBER, "333333", "allauth.login").verified


@pytest.mark.parametrize(
    "code", [123456, "12 34", "123", "1" * 17, "１２３４５６", "12345\n", "abc-def", b"123456"]
)
def test_a_bad_code_is_refused_before_anything_is_written(xunchen_outbox, code):
    with pytest.raises(XunchenValidationError) as caught:
        request_code(NUMBER, "login", code=code)
    text = str(caught.value)
    assert repr(code) not in text and (not isinstance(code, str) or code.strip() not in text)
    assert not Message.objects.exists() and not ThrottleEvent.objects.exists()
    assert xunchen_outbox == []


@pytest.mark.parametrize("code", [123456, "123", "abc-def"])
def test_a_bad_code_is_refused_saying_what_a_code_may_be(xunchen_outbox, code):
    with pytest.raises(XunchenValidationError) as caught:
        request_code(NUMBER, "login", code=code)
    assert str(caught.value) == "code must be 4 to 16 ASCII letters or digits"


@pytest.mark.parametrize("ttl", [0, -5, 1.5, True, "60"])
def test_a_bad_ttl_is_refused(xunchen_outbox, ttl):
    with pytest.raises(XunchenValidationError):
        request_code(NUMBER, "login", code="123456", ttl=ttl)
    assert not Message.objects.exists()
