"""Query counts are deterministic: per 1,000 reports a poll's statements stay constant."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def _statements(fn, *args, **kwargs):
    with CaptureQueriesContext(connection) as ctx:
        fn(*args, **kwargs)
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)]


def _numbers(count, prefix="138"):
    return [f"{prefix}{i:08d}" for i in range(count)]


def test_queries_per_1000_reports_are_constant():
    def poll_reports(count, prefix):
        send_sms(_numbers(count, prefix), "x")
        locmem.deliver_all()
        locmem.outbox.clear()
        return len(_statements(poll, inbound=False, force=True))

    poll(inbound=False, force=True)  # the first poll also creates its health row
    one = poll_reports(1000, "137")
    two = poll_reports(2000, "136")
    three = poll_reports(3000, "135")
    assert Message.objects.filter(status="delivered").count() == 6000
    assert one == two == three, (
        "up to INGEST_CHUNK (5,000) reports take the same statements: a COPY or one "
        "INSERT, the match, the status updates"
    )
