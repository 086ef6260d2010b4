"""send_queued() and resend(), case by case."""

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from django_xunchen import resend, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import InsufficientBalanceError
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db
DUMMY = "django_xunchen.backends.dummy.SMSBackend"


def ago(**kwargs):
    return timezone.now() - dt.timedelta(**kwargs)


def test_it_expires_only_queued_rows_past_their_expiry(xunchen_outbox):
    late = Message.objects.create(mobile="13800138000", content="x", expires_at=ago(minutes=1))
    sent = Message.objects.create(
        mobile="13900000000", content="x", status="sent", expires_at=ago(minutes=1)
    )
    counts = send_queued()
    assert counts["expired"] == 1
    assert Message.objects.get(pk=late.pk).status == "expired"
    assert Message.objects.get(pk=sent.pk).status == "sent"
    assert xunchen_outbox == []


def test_the_sweep_marks_only_stale_sending_rows_and_says_why(xunchen_outbox):
    stale = Message.objects.create(mobile="13800138000", content="x", status="sending")
    old_sent = Message.objects.create(mobile="13900000000", content="x", status="sent")
    Message.objects.update(updated_at=ago(hours=1), claim=uuid.uuid4())
    assert send_queued()["stale"] == 1
    stale.refresh_from_db()
    assert stale.status == "unknown" and stale.claim is None
    assert stale.error_message == "The sending process stopped before it recorded the outcome."
    assert stale.updated_at > ago(minutes=1)
    assert Message.objects.get(pk=old_sent.pk).status == "sent"


def test_oldest_first_and_at_most_limit(xunchen_outbox):
    newer = Message.objects.create(mobile="13800138000", content="newer")
    older = Message.objects.create(mobile="13900000000", content="older")
    Message.objects.filter(pk=older.pk).update(created_at=ago(hours=1))
    counts = send_queued(limit=1)
    assert (counts["claimed"], counts["sent"]) == (1, 1)
    assert Message.objects.get(pk=older.pk).status == "sent"
    assert Message.objects.get(pk=newer.pk).status == "queued"


def test_it_uses_the_backend_it_is_given_and_never_raises_a_gateway_error(xunchen_outbox):
    Message.objects.create(mobile="13800138000", content="x")
    counts = send_queued(backend=DUMMY)
    assert counts["sent"] == 1 and xunchen_outbox == [], "the dummy backend sent it"
    Message.objects.create(mobile="13900000000", content="y")
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    counts = send_queued()
    assert counts["sent"] == 0
    assert Message.objects.get(mobile="13900000000").status == "failed"


def test_a_resend_copies_the_message_into_one_new_batch_and_never_raises(xunchen_outbox):
    template = Template.objects.create(template_id="T-1", name="t", body="码@1@")
    first, second = send_sms(
        ["13800138000", "13900000000"], template=template, params=["12"], extcode="7"
    )
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    created, skipped = resend([first, second])
    assert skipped == []
    assert {m.resent_from_id for m in created} == {first.pk, second.pk}
    for copy in created:
        copy.refresh_from_db()
        assert (copy.template_id, copy.params, copy.extcode) == (template.pk, {"1": "12"}, "7")
        assert copy.content == "码12" and copy.status == "failed"
    assert len({c.batch for c in created}) == 1 and created[0].batch != first.batch


def test_dispatch_expires_rows_past_their_expiry_and_sends_the_rest(xunchen_outbox):
    from django_xunchen.backends.locmem import SMSBackend
    from django_xunchen.dispatch.submit import dispatch

    rows = send_sms(
        ["13800138000", "13900000000"],
        "x",
        backend=DUMMY,
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    Message.objects.update(status="queued", msgid="")
    Message.objects.filter(pk=rows[0].pk).update(expires_at=ago(seconds=1))
    rows[0].expires_at = ago(seconds=1)
    outcome = dispatch(rows, SMSBackend())
    assert outcome.sent == 1 and outcome.requests == 1
    assert [s.mobiles for s in xunchen_outbox] == [("13900000000",)]
    assert Message.objects.get(pk=rows[0].pk).status == "expired"
    assert [r.status for r in rows] == ["expired", "sent"], "the rows in memory say so too"


def test_dispatch_of_rows_another_process_took_sends_nothing_and_shows_their_status(
    xunchen_outbox,
):
    from django_xunchen.backends.locmem import SMSBackend
    from django_xunchen.dispatch.submit import dispatch

    rows = send_sms(["13800138000", "13900000000"], "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    Message.objects.filter(pk=rows[0].pk).update(status="sending")
    for row in rows:
        row.status = "queued"
    outcome = dispatch(rows, SMSBackend())
    assert outcome.sent == 1
    assert [s.mobiles for s in xunchen_outbox] == [("13900000000",)]
    assert [r.status for r in rows] == ["sending", "sent"]
    Message.objects.update(status="sent")
    for row in rows:
        row.status = "queued"
    assert dispatch(rows, SMSBackend()).requests == 0
    assert [r.status for r in rows] == ["sent", "sent"]


def test_a_scheduled_message_whose_time_came_while_it_waited_goes_out_now(xunchen_outbox):
    soon = timezone.now() + dt.timedelta(hours=1)
    (_message,) = send_sms("13800138000", "x", backend=DUMMY, send_at=soon)
    Message.objects.update(status="queued", msgid="", send_at=ago(minutes=5))
    send_queued()
    (sent,) = xunchen_outbox
    assert sent.request.send_at is None, "no send time in the past goes to the gateway"
    future = timezone.now() + dt.timedelta(hours=2)
    Message.objects.update(status="queued", msgid="", send_at=future)
    send_queued()
    assert xunchen_outbox[1].request.send_at == future
