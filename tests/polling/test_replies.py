"""Replies: stored once per journal position, matched to the right message, counted and
signalled, chunk by chunk."""

import datetime as dt

import pytest
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import InboundMessage, Message, PollJournalEntry
from django_xunchen.polling import rows as polling_rows

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


@pytest.fixture
def replies(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "SENDER_NUMBER": ""}


def test_replies_keep_their_journal_position_and_are_signalled_with_their_message(replies, events):
    (message,) = send_sms("13800138000", "x")
    for text in ("一", "二", "三"):
        locmem.queue_reply("13800138000", text)
    locmem.queue_reply("13700000000", "陌生")
    events.clear()
    result = poll(reports=False, force=True)
    assert (result.inbound, result.inbound_matched) == (4, 3)
    entry = PollJournalEntry.objects.get(operation="queryMo", records=4)
    stored = list(InboundMessage.objects.order_by("position"))
    assert [(r.source_id, r.position, r.content) for r in stored] == [
        (entry.pk, 0, "一"),
        (entry.pk, 1, "二"),
        (entry.pk, 2, "三"),
        (entry.pk, 3, "陌生"),
    ]
    signalled = [kwargs for name, kwargs in events if name == "inbound_received"]
    assert [(k["inbound"].content, k["message"]) for k in signalled] == [
        ("一", message),
        ("二", message),
        ("三", message),
        ("陌生", None),
    ]


def test_counts_add_up_over_chunks(replies, monkeypatch):
    monkeypatch.setattr(polling_rows, "CHUNK", 2)
    send_sms("13800138000", "x")
    for i in range(5):
        locmem.queue_reply("13800138000" if i % 2 else "13700000000", str(i))
    result = poll(reports=False, force=True)
    assert (result.inbound, result.inbound_matched) == (5, 2)
    assert sorted(InboundMessage.objects.values_list("position", flat=True)) == [0, 1, 2, 3, 4]


def test_only_recent_messages_that_went_out_to_that_number_are_candidates(replies, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "MATCH_WINDOW_DAYS": 7}
    (old,) = send_sms("13800138000", "old")
    Message.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - dt.timedelta(days=8))
    (failed,) = send_sms("13900000000", "failed")
    Message.objects.filter(pk=failed.pk).update(status="failed")
    send_sms("13600000000", "another number")
    locmem.queue_reply("13800138000", "to the old one")
    locmem.queue_reply("13900000000", "to the failed one")
    poll(reports=False, force=True)
    assert list(InboundMessage.objects.values_list("message", flat=True)) == [None, None]


def test_the_latest_message_wins_whatever_the_row_order(replies):
    (later,) = send_sms("13800138000", "later")
    (earlier,) = send_sms("13800138000", "earlier")
    now = timezone.now()
    Message.objects.filter(pk=later.pk).update(submitted_at=now)
    Message.objects.filter(pk=earlier.pk).update(submitted_at=now - dt.timedelta(hours=1))
    locmem.queue_reply("13800138000", "好")
    poll(reports=False, force=True)
    assert InboundMessage.objects.get().message == later


def test_the_stored_extcode_is_the_matched_messages_without_a_sender_number(replies):
    send_sms("13800138000", "x", extcode="42")
    locmem.queue_reply("13800138000", "matched", extcode="42")
    locmem.queue_reply("13700000000", "not matched", extcode="9")
    poll(reports=False, force=True)
    stored = dict(InboundMessage.objects.values_list("content", "extcode"))
    assert stored == {"matched": "42", "not matched": ""}
