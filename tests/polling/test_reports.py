"""Delivery reports: stored once per journal position with everything the gateway said,
counted over chunks, and orphans re-matched only when they can be."""

import datetime as dt

import pytest
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.client import parse_reports, parse_send
from django_xunchen.exceptions import MalformedResponseError
from django_xunchen.models import Message, PollJournalEntry, Report
from django_xunchen.polling import rows as polling_rows

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


@pytest.fixture
def reports(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}


def test_reports_keep_their_position_extno_and_match_time(reports, monkeypatch):
    monkeypatch.setattr(polling_rows, "CHUNK", 2)
    (message,) = send_sms("13800138000", "x", extcode="12")
    locmem.queue_report("13800138000", message.msgid, "DELIVRD", extno="12")
    locmem.queue_report("13900000000", "unknown-msgid", "UNDELIV")
    locmem.queue_report("13700000000", "other", "DELIVRD", extno="3")
    result = poll(inbound=False, force=True)
    assert (result.reports, result.reports_matched) == (3, 1)
    entry = PollJournalEntry.objects.get(operation="queryReport", records=3)
    rows = list(Report.objects.order_by("position"))
    assert [(r.source_id, r.position, r.extno) for r in rows] == [
        (entry.pk, 0, "12"),
        (entry.pk, 1, ""),
        (entry.pk, 2, "3"),
    ]
    assert rows[0].matched_at is not None and rows[0].message == message
    assert rows[1].matched_at is None and rows[1].message is None
    message.refresh_from_db()
    assert (message.status, message.report_status) == ("delivered", "DELIVRD")


def test_an_orphan_with_an_empty_msgid_is_never_matched_to_a_queued_message(reports):
    queued = Message.objects.create(mobile="13800138000", content="waiting")
    locmem.queue_report("13800138000", "", "DELIVRD")
    poll(inbound=False, force=True)
    assert Report.objects.get().message is None
    queued.refresh_from_db()
    assert queued.status == "queued"


def test_orphans_are_rematched_one_by_one_within_the_window(reports, settings, events):
    settings.XUNCHEN = {**settings.XUNCHEN, "MATCH_WINDOW_DAYS": 7}
    locmem.queue_report("13900000000", "never-sent", "DELIVRD")
    locmem.queue_report("13800138000", "later", "UNDELIV")
    locmem.queue_report("13700000000", "too-old", "DELIVRD")
    poll(inbound=False, force=True)
    Report.objects.filter(msgid="too-old").update(received_at=timezone.now() - dt.timedelta(days=8))
    # Created first, so a lookup by mobile alone or by msgid alone would find them.
    Message.objects.create(mobile="13800138000", content="x", status="sent", msgid="earlier")
    sibling = Message.objects.create(
        mobile="13600000000", content="x", status="sent", msgid="later"
    )
    late = Message.objects.create(mobile="13800138000", content="x", status="sent", msgid="later")
    old = Message.objects.create(mobile="13700000000", content="x", status="sent", msgid="too-old")
    events.clear()
    result = poll(inbound=False, force=True)
    assert result.rematched == 1
    late.refresh_from_db()
    assert (late.status, late.report_status) == ("undelivered", "UNDELIV")
    assert late.reported_at is not None
    assert Report.objects.get(msgid="later").message == late
    assert Message.objects.get(pk=old.pk).status == "sent", "outside the window"
    assert Message.objects.get(pk=sibling.pk).status == "sent"
    ((name, kwargs),) = events
    assert name == "report_matched"
    assert kwargs["report"].msgid == "later" and kwargs["message"] == late
    assert kwargs["delivered"] is False


def test_a_value_exactly_as_long_as_its_column_is_not_flagged(reports):
    locmem.queue_report("1" * 20, "m" * 64, "S" * 32)
    poll(inbound=False, force=True)
    report = Report.objects.get()
    assert not report.truncated
    assert (report.mobile, report.msgid, report.status) == ("1" * 20, "m" * 64, "S" * 32)


def test_a_report_mobile_is_normalised_like_any_other():
    body = (
        b"<sms><rpt><mobile>+86 138-0013-8000</mobile><msgid>1</msgid>"
        b"<status>DELIVRD</status><time></time><extno>7</extno></rpt></sms>"
    )
    (report,) = parse_reports(body)
    assert (report.mobile, report.extno, report.delivered) == ("13800138000", "7", True)


def test_a_msgid_of_exactly_64_characters_is_kept():
    msgid = "7" * 64
    assert parse_send(f"<sms><mt><status>0</status><msgid>{msgid}</msgid></mt></sms>".encode())


@pytest.mark.parametrize(
    "body",
    [
        b"<sms><mt><status>0</status><msgid></msgid></mt></sms>",
        b"<sms><mt><status>0</status><msgid>" + b"9" * 65 + b"</msgid></mt></sms>",
        b"<sms><other/></sms>",
    ],
)
def test_send_answer_errors_keep_the_body(body):
    with pytest.raises(MalformedResponseError, match=r"^send: ") as info:
        parse_send(body)
    assert info.value.body == body


def test_a_poll_stores_each_report_as_said_and_stamps_what_it_changed(reports):
    """The report's own time on the report and on its message, the poll's time on what
    the poll matched and updated; nothing flagged that fits its column."""
    import time_machine

    from django_xunchen.client.types import CHINA_TZ

    sent_at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA_TZ)
    reported = sent_at + dt.timedelta(seconds=7)
    polled = sent_at + dt.timedelta(hours=1)
    with time_machine.travel(sent_at, tick=False):
        delivered, failed = send_sms(["13800138000", "13800138001"], "x")
    with time_machine.travel(reported, tick=False):
        locmem.queue_report("13800138000", delivered.msgid, "DELIVRD", extno="12")
        locmem.queue_report("13800138001", failed.msgid, "MA:0006")
        locmem.queue_report("13700000000", "nobody's", "DELIVRD")
    with time_machine.travel(polled, tick=False):
        assert poll(inbound=False, force=True).reports_matched == 2
    rows = [
        (r.mobile, r.status, r.delivered, r.reported_at, r.extno, r.truncated, r.matched_at)
        for r in Report.objects.order_by("position")
    ]
    assert rows == [
        ("13800138000", "DELIVRD", True, reported, "12", False, polled),
        ("13800138001", "MA:0006", False, reported, "", False, polled),
        ("13700000000", "DELIVRD", True, reported, "", False, None),
    ]
    messages = Message.objects.order_by("mobile").values_list(
        "status", "report_status", "reported_at", "updated_at"
    )
    assert list(messages) == [
        ("delivered", "DELIVRD", reported, polled),
        ("undelivered", "MA:0006", reported, polled),
    ]
