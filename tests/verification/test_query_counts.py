"""Query counts of a code request: within the budget, also when an expired code is
replaced."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen.models import VerificationCode
from django_xunchen.testing import last_code
from django_xunchen.verification.codes import (
    check_code,
    request_code,
)

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"


def test_query_counts(codes, xunchen_outbox):
    request_code("13900139000")
    with CaptureQueriesContext(connection) as requested:
        request_code(NUMBER)
    queries = [q["sql"] for q in requested.captured_queries if not _control(q["sql"])]
    ours = [q for q in queries if "django_xunchen_message" not in q]
    assert len(ours) <= 6, ours
    assert len(queries) - len(ours) == 3, "the send: insert, claim … RETURNING, outcome"
    with CaptureQueriesContext(connection) as checked:
        check_code(NUMBER, "000000")
    assert len([q for q in checked.captured_queries if not _control(q["sql"])]) <= 3


def _control(sql):
    return sql.split()[0].upper() in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


def test_replacing_an_expired_code_stays_within_the_query_budget(codes, xunchen_outbox):
    request_code(NUMBER)
    VerificationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as requested:
        assert request_code(NUMBER).sent
    queries = [q["sql"] for q in requested.captured_queries if not _control(q["sql"])]
    assert len([q for q in queries if "django_xunchen_message" not in q]) <= 6
    assert check_code(NUMBER, last_code(NUMBER)).verified
