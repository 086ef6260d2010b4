"""send_queued()'s arguments and the rows it leaves alone: any idle time from zero, the
backend it is given, a limit of 10,000 by default, the rows it expires, the rows of an
account no longer configured, each row on its own account."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    NotSentError,
)
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
DUMMY = "django_xunchen.backends.dummy.SMSBackend"
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
N = "13800138000"


@pytest.mark.parametrize("idle_for", [0, 0.5, 60])
def test_send_queued_takes_any_idle_time_from_zero(idle_for, xunchen_outbox):
    send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status=S.QUEUED, msgid="")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert send_queued(idle_for=idle_for)["sent"] == 1


def test_send_queued_stamps_the_rows_it_expires(xunchen_outbox):
    (row,) = send_sms(
        "13800138000", "x", backend=DUMMY, expires_at=timezone.now() + dt.timedelta(minutes=5)
    )
    Message.objects.update(status=S.QUEUED)
    later = timezone.now() + dt.timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        assert send_queued()["expired"] == 1
    row.refresh_from_db()
    assert (row.status, row.updated_at) == (S.EXPIRED, later)


def test_send_queued_skips_rows_of_an_account_no_longer_configured(xunchen_outbox):
    send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status=S.QUEUED, account="gone")
    assert send_queued()["claimed"] == 0 and not xunchen_outbox
    assert Message.objects.get().status == S.QUEUED


def test_send_queued_uses_the_backend_it_is_given(settings, xunchen_outbox):
    """Every account's configured class is replaced, as for send_sms(backend=...)."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": DUMMY}
    Message.objects.create(mobile=N, content="waiting")
    assert send_queued(backend=LOCMEM)["sent"] == 1
    assert [s.mobiles for s in xunchen_outbox] == [(N,)]


def test_send_queued_reads_each_template_once_whatever_the_rows(settings, xunchen_outbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-1", name="t", body="您好@1@")
    counts = {}
    for rows in (1, 5):
        Message.objects.bulk_create(
            [
                Message(mobile=f"1390000000{i}", template=template, params={"1": str(i)})
                for i in range(rows)
            ]
        )
        with CaptureQueriesContext(connection) as queries:
            assert send_queued()["sent"] == rows
        counts[rows] = len(queries)
    # Each row has its own parameters, so its own request: a claim and an outcome each,
    # and not one query more per row.
    assert counts[5] - counts[1] == 2 * (5 - 1)


def test_send_queued_reads_at_most_10000_rows_by_default(xunchen_outbox):
    send_sms(N, "x", backend=DUMMY)
    Message.objects.update(status=S.QUEUED, msgid="")
    with (
        time_machine.travel(timezone.now() + dt.timedelta(seconds=61)),
        CaptureQueriesContext(connection) as queries,
    ):
        assert send_queued()["sent"] == 1
    (read,) = [
        q["sql"] for q in queries if 'ORDER BY "django_xunchen_message"."created_at"' in q["sql"]
    ]
    assert re.search(r"\bLIMIT 10000\b", read), read


def test_send_queued_sends_each_row_on_its_account(three_accounts, xunchen_outbox):
    for kind in ("verification", "marketing", "notification"):
        locmem.fail_next(NotSentError("refused"))
        send_sms("13800138000", f"{kind} text", kind=kind, fail_silently=True)
    assert set(Message.objects.values_list("status", flat=True)) == {S.QUEUED}
    assert send_queued()["sent"] == 3
    assert sorted(s.account for s in xunchen_outbox) == ["codes", "default", "marketing"]
