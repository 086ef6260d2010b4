"""Sending at its edges: what a resend carries over and when it waits, send_queued's
arguments and the rows it leaves alone, and how long a row may stay ``sending``."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import resend, send_queued, send_sms
from django_xunchen.models import CHINA_TZ, Message
from django_xunchen.sending import STALE_MARGIN, stale_after

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
DUMMY = "django_xunchen.backends.dummy.SMSBackend"


@pytest.fixture
def quiet_hours(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}


def test_a_marketing_resend_at_night_waits_for_the_morning(quiet_hours, xunchen_outbox):
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ), tick=False):
        send_sms("13800138000", "上新", kind="marketing", backend=DUMMY)
        send_sms("13800138001", "发货", backend=DUMMY)
    Message.objects.update(status=S.FAILED)
    with time_machine.travel(NIGHT, tick=False):
        created, _ = resend(Message.objects.order_by("pk"))
    held, sent = created
    assert (held.status, held.hold_until) == (
        S.QUEUED,
        dt.datetime(2026, 11, 27, 8, 0, tzinfo=CHINA_TZ),
    )
    assert (sent.status, sent.hold_until) == (S.SENT, None), "a notification is not held"
    assert [s.mobiles for s in xunchen_outbox] == [("13800138001",)]


def test_a_resend_carries_the_parts_tags_and_metadata_over(xunchen_outbox):
    (original,) = send_sms(
        "13800138000", "长" * 80, tags=["orders"], metadata={"order": 7}, backend=DUMMY
    )
    (copy,), _ = resend([Message.objects.get(pk=original.pk)])
    copy.refresh_from_db()
    assert (copy.parts, copy.tags, copy.metadata) == (2, ["orders"], {"order": 7})
    assert copy.parts == original.parts


def test_a_resend_goes_to_the_background_when_the_setting_says_so(settings, xunchen_outbox):
    from django_xunchen.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": f"{settings.TASKS_MODULE}.backends.dummy.DummyBackend",
            "QUEUES": ["default", "sms-codes"],
        }
    }
    tasks = task_backends["default"]
    tasks.clear()
    send_sms("13800138000", "a", backend=DUMMY)
    send_sms("13800138001", "您的验证码是 1234", kind="verification", backend=DUMMY)
    send_sms("13800138002", "上新", kind="marketing", backend=DUMMY)
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKGROUND": True}
    created, _ = resend(Message.objects.order_by("pk"))
    assert {m.status for m in created} == {S.QUEUED} and not xunchen_outbox
    enqueued = sorted(
        (r.args[0], r.task.queue_name) for r in tasks.results if r.task.name == "send_messages"
    )
    assert enqueued == [
        ([created[0].pk], "default"),
        ([created[1].pk], "sms-codes"),
        ([created[2].pk], "default"),
    ], "one task per kind, with its own rows"
    tasks.clear()


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


def test_a_row_may_stay_sending_for_the_longest_deadline_of_any_account(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "REQUEST_DEADLINE": 10,
        "OUTCOME_RETRY_SECONDS": 5,
        "ACCOUNTS": {"default": {}, "slow": {"REQUEST_DEADLINE": 100}},
    }
    assert stale_after() == dt.timedelta(seconds=105) + STALE_MARGIN
    settings.XUNCHEN = {**settings.XUNCHEN, "REQUEST_DEADLINE": None, "ACCOUNTS": {}}
    assert stale_after() == dt.timedelta(seconds=5) + STALE_MARGIN
