"""resend(): what a resend carries over, the account it goes out on, when it waits, and
when it goes to the background."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import resend, send_sms
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
DUMMY = "django_xunchen.backends.dummy.SMSBackend"


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


def test_a_resend_goes_out_on_the_original_account(three_accounts, xunchen_outbox):
    (original,) = send_sms("13800138000", "新品上市", kind="marketing", tags=["t"])
    (codes,) = send_sms("13800138001", "您的验证码为 1", kind="verification")
    created, skipped = resend([original, codes])
    assert skipped == []
    assert [(m.account, m.kind, m.tags) for m in created] == [
        ("marketing", "marketing", ["t"]),
        ("codes", "verification", []),
    ]
    assert [s.account for s in xunchen_outbox[2:]] == ["marketing", "codes"]


def test_a_message_of_an_account_no_longer_configured_is_not_resent(three_accounts):
    (original,) = send_sms("13800138000", "新品上市", kind="marketing")
    Message.objects.filter(pk=original.pk).update(account="gone")
    original.refresh_from_db()
    assert resend([original]) == ([], [original])
