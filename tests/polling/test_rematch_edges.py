"""Reports matched on a later poll (they came before their message had its msgid), at
their edges: the latency they set, the time of the webhook event they record (the moment
the message moved), a message with two reports of the same outcome; and replies whose
fields fill their columns exactly, stored whole and not flagged."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import poll
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import EventType, InboundMessage, Message, WebhookEvent
from django_xunchen.webhooks import events as webhook_events

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA_TZ)


def at(seconds):
    return time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False)


def sent(mobile, msgid):
    return Message.objects.create(
        mobile=mobile, content="x", msgid=msgid, status=S.SENT, submitted_at=T0
    )


def orphans(*reports):
    """Reports polled at T0 + 20 s, before any message has their msgid."""
    for seconds, mobile, msgid, status in reports:
        with at(seconds):
            locmem.queue_report(mobile, msgid, status)
    with at(20):
        assert poll(force=True, inbound=False).reports_matched == 0


def test_a_report_matched_later_sets_the_latency_from_the_submission(on_locmem):
    orphans((10, "13800138000", "late-1", "DELIVRD"), (15, "13800138001", "late-2", "MA:0006"))
    first, second = sent("13800138000", "late-1"), sent("13800138001", "late-2")
    with at(30):
        assert poll(force=True, inbound=False).rematched == 2
    latencies = dict(Message.objects.values_list("pk", "latency"))
    assert latencies == {first.pk: dt.timedelta(seconds=10), second.pk: dt.timedelta(seconds=15)}


class SteppingClock:
    """``timezone.now()`` a millisecond later at each reading: a value read once and
    passed on stays apart from one read again later."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        self.now += dt.timedelta(milliseconds=1)
        return self.now


def listen_to_outcomes():
    """As if an endpoint wanted the delivered and undelivered events."""
    webhook_events._subscriptions.assume(
        frozenset({EventType.MESSAGE_DELIVERED, EventType.MESSAGE_UNDELIVERED})
    )


def assert_events_at_the_moment_moved(delivered, undelivered):
    """One event each, recorded at the moment its message moved (its ``updated_at``)."""
    moved = dict(Message.objects.values_list("pk", "updated_at"))
    recorded = {(e.type, e.object_id): e.occurred_at for e in WebhookEvent.objects.all()}
    assert recorded == {
        (EventType.MESSAGE_DELIVERED, delivered.pk): moved[delivered.pk],
        (EventType.MESSAGE_UNDELIVERED, undelivered.pk): moved[undelivered.pk],
    }


def test_the_event_of_a_report_matched_later_carries_the_moment_its_message_moved(
    on_locmem, monkeypatch
):
    orphans((10, "13800138000", "late-1", "DELIVRD"), (15, "13800138001", "late-2", "MA:0006"))
    delivered, undelivered = sent("13800138000", "late-1"), sent("13800138001", "late-2")
    listen_to_outcomes()
    monkeypatch.setattr(timezone, "now", SteppingClock(T0 + dt.timedelta(seconds=30)))
    assert poll(force=True, inbound=False).rematched == 2
    assert_events_at_the_moment_moved(delivered, undelivered)


def test_a_message_with_two_reports_of_its_outcome_matched_later_takes_the_first(on_locmem):
    """The gateway may report the same outcome twice (a repeated report, two failure
    codes): each message takes the code and time of its first. (PostgreSQL also
    refuses a status taken from more than one report.)"""
    orphans(
        (10, "13800138000", "late-1", "DELIVRD"),
        (11, "13800138000", "late-1", "DELIVRD"),
        (12, "13800138001", "late-2", "MA:0006"),
        (13, "13800138001", "late-2", "EXPIRED"),
    )
    first, second = sent("13800138000", "late-1"), sent("13800138001", "late-2")
    with at(30):
        assert poll(force=True, inbound=False).rematched == 4
    stored = {
        pk: rest
        for pk, *rest in Message.objects.values_list("pk", "status", "report_status", "reported_at")
    }
    assert stored == {
        first.pk: [S.DELIVERED, "DELIVRD", T0 + dt.timedelta(seconds=10)],
        second.pk: [S.UNDELIVERED, "MA:0006", T0 + dt.timedelta(seconds=12)],
    }


def test_a_reply_whose_fields_fill_their_columns_is_stored_whole_and_not_flagged(
    on_locmem, settings
):
    settings.XUNCHEN = {**settings.XUNCHEN, "SENDER_NUMBER": locmem.SENDER_NUMBER}
    limits = {f.name: f.max_length for f in InboundMessage._meta.fields if f.max_length}
    mobile = "1" * limits["mobile"]
    extcode = "2" * (limits["recvcode"] - len(locmem.SENDER_NUMBER))
    assert len(extcode) == limits["extcode"]
    locmem.queue_reply(mobile, "好", extcode)
    locmem.queue_reply("13800138000", "好", "3")
    assert poll(force=True, reports=False).inbound == 2
    stored = {r.mobile: (r.recvcode, r.extcode, r.truncated) for r in InboundMessage.objects.all()}
    assert stored == {
        mobile: (locmem.SENDER_NUMBER + extcode, extcode, False),
        "13800138000": (locmem.SENDER_NUMBER + "3", "3", False),
    }
