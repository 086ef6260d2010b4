"""Every event type, from each path that makes it happen, reaches the receiver once with
its object as the HTTP API shows it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from django_xunchen import campaigns, poll, send_queued, send_sms
from django_xunchen.exceptions import BlockedWordsError
from django_xunchen.models import BlockedWord, EventType, Message, Report, WebhookEvent
from django_xunchen.policy.suppression import suppress, suppress_many
from django_xunchen.webhooks import delivery

from ..campaigns.test_campaigns import gbk_file, make
from .conftest import make_endpoint

pytestmark = pytest.mark.django_db(transaction=True)
T0 = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.timezone.utc)  # 11:00 in Beijing


@pytest.fixture
def hooked(gateway, allow_private, receiver):
    make_endpoint(receiver.url, list(EventType.values))

    def delivered() -> list[tuple[str, object]]:
        delivery.run()
        return [(e["type"], e["data"].get("id")) for e in receiver.events()]

    return delivered


def test_sent_delivered_and_undelivered_from_a_send_and_a_poll(gateway, hooked):
    gateway.state.undeliverable.add("13900000000")
    ok, bad = send_sms(["13800138000", "13900000000"], "您的订单已发货")
    gateway.deliver_now()
    assert poll().ok
    got = hooked()
    assert sorted(got) == sorted(
        [
            ("message.sent", ok.pk),
            ("message.sent", bad.pk),
            ("message.delivered", ok.pk),
            ("message.undelivered", bad.pk),
        ]
    )
    assert delivery.run().delivered == 0


def test_failed_from_a_refused_send(gateway, hooked):
    gateway.state.blocked_words.append("赌博")
    with pytest.raises(BlockedWordsError):
        send_sms("13800138000", "赌博网站")
    row = Message.objects.get()
    assert row.status == Message.Status.FAILED
    assert hooked() == [("message.failed", row.pk)]


def test_a_report_matched_later_moves_its_message_once(gateway, hooked):
    """The one-by-one path (``apply_report``: an orphan report matched on a later poll)
    records the event as the set-based one does."""
    (row,) = send_sms("13800138000", "您的订单已发货")
    Message.objects.filter(pk=row.pk).update(msgid="")
    gateway.deliver_now()
    assert poll().ok
    assert Report.objects.filter(message__isnull=True).count() == 1
    Message.objects.filter(pk=row.pk).update(msgid=Report.objects.get().msgid)
    assert poll(force=True).ok
    assert Message.objects.get(pk=row.pk).status == Message.Status.DELIVERED
    assert hooked() == [("message.sent", row.pk), ("message.delivered", row.pk)]


def test_a_reply_and_its_opt_out(gateway, hooked):
    (row,) = send_sms("13800138000", "您的订单已发货")
    gateway.inject_reply("13800138000", "退订")
    assert poll().ok
    got = hooked()
    types = [t for t, _pk in got]
    assert types.count("reply.received") == 1
    assert types.count("suppression.added") == 1
    (event,) = WebhookEvent.objects.filter(type="reply.received")
    assert event.payload["data"]["content"] == "退订"
    assert event.payload["data"]["message"] == row.pk


def test_suppression_by_staff_and_by_import(hooked):
    entry = suppress("13800138000", source="staff")
    suppress("13800138000", source="staff")  # already there: nothing new
    done = suppress_many(["13800138001", "13800138002", "13800138000"], source="import")
    assert done.added == 2
    wider = suppress_many(["13800138001"], source="import", scope="all")
    assert wider.widened == 1
    got = hooked()
    assert got.count(("suppression.added", entry.pk)) == 1
    assert [t for t, _ in got].count("suppression.added") == 4, "three added, one widened"


def test_a_campaign_that_finishes(gateway, hooked):
    with time_machine.travel(T0, tick=False):
        campaign = campaigns.stage(make(), gbk_file(), "a.csv")
        campaigns.confirm(campaign)
        send_queued()
        send_queued()
    got = hooked()
    assert got.count(("campaign.finished", campaign.pk)) == 1
    assert len([t for t, _ in got if t == "message.sent"]) == 3
    (event,) = WebhookEvent.objects.filter(type="campaign.finished")
    assert event.payload["data"]["state"] == "done"


def test_the_sweep_that_gives_up_a_stuck_send_records_message_failed(gateway, hooked):
    """The sweep's set-based UPDATE (``sending`` too long: ``unknown``) records as the
    outcome write does."""
    row = Message.objects.create(mobile="13800138000", content="x", status="sending")
    Message.objects.filter(pk=row.pk).update(
        updated_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    )
    send_queued()
    assert Message.objects.get(pk=row.pk).status == Message.Status.UNKNOWN
    assert hooked() == [("message.failed", row.pk)]
    (event,) = WebhookEvent.objects.all()
    assert event.payload["data"]["status"] == "unknown"


def test_a_word_learned_after_the_message_was_written_records_message_failed(gateway, hooked):
    row = Message.objects.create(mobile="13800138000", content="今晚特价博彩", status="queued")
    BlockedWord.objects.create(word="博彩")
    send_queued()
    assert Message.objects.get(pk=row.pk).status == Message.Status.FAILED
    assert hooked() == [("message.failed", row.pk)]
