"""poll(): journal before parse, idempotent ingest, matching, signals after commit, lock."""

import datetime as dt
import logging

import pytest
from django.db import DatabaseError
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import InboundMessage, Message, PollJournalEntry, PollLock, Report
from django_xunchen.polling import ingest, reports
from django_xunchen.polling.accounts import gateway_accounts, lock_name_for
from django_xunchen.polling.locks import DatabaseLock
from django_xunchen.polling.result import PollResult
from django_xunchen.signals import report_received

pytestmark = pytest.mark.django_db(transaction=True)


def test_reports_are_ingested_once_matched_and_signalled(gateway, events):
    gateway.state.undeliverable.add("13900000000")
    send_sms(["13800138000", "13900000000"], "hello")
    events.clear()
    result = poll()
    assert result.ok, result.errors
    assert (result.reports, result.reports_matched) == (2, 2)
    delivered = Message.objects.get(mobile="13800138000")
    failed = Message.objects.get(mobile="13900000000")
    assert (delivered.status, delivered.report_status) == ("delivered", "DELIVRD")
    assert failed.status == "undelivered" and failed.report_status in (
        "MA:0006",
        "UNDELIV",
        "EXPIRED",
    )
    assert delivered.reported_at is not None
    assert Report.objects.filter(message__isnull=False).count() == 2
    assert sorted((e[1]["message"].mobile, e[1]["delivered"]) for e in events) == [
        ("13800138000", True),
        ("13900000000", False),
    ]
    assert {e[0] for e in events} == {"report_received"}
    second = poll()
    assert second.reports == 0
    assert Report.objects.count() == 2
    assert PollJournalEntry.objects.filter(state="pending").count() == 0


def test_replies_are_matched_by_extcode_and_mobile(gateway, events):
    (first,) = send_sms("13800138000", "reply 1", extcode="1")
    (second,) = send_sms("13800138000", "reply 12", extcode="12")
    gateway.inject_reply("13800138000", "退订", "1")
    gateway.inject_reply("13700000000", "who are you")
    events.clear()
    result = poll(reports=False)
    assert (result.inbound, result.inbound_matched) == (2, 1)
    reply = InboundMessage.objects.get(mobile="13800138000")
    assert reply.message == first
    assert reply.extcode == "1"
    assert reply.recvcode == gateway.account.sender + "1"
    assert InboundMessage.objects.get(mobile="13700000000").message is None
    assert sorted(e[0] for e in events) == ["inbound_received", "inbound_received"]
    assert poll(reports=False).inbound == 0
    assert second.replies.count() == 0


def test_replies_matched_without_a_configured_sender_number(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SENDER_NUMBER": ""}
    send_sms("13800138000", "a", extcode="7")
    (wanted,) = send_sms("13800138000", "b", extcode="77")
    gateway.inject_reply("13800138000", "ok", "77")
    poll(reports=False)
    assert InboundMessage.objects.get().message == wanted


def test_a_crash_between_fetch_and_ingest_loses_nothing(gateway, monkeypatch):
    send_sms(["13800138000", "13900000000"], "hello")

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash after the fetch")

    monkeypatch.setattr(ingest, "_store_reports", crash)
    result = poll(inbound=False)
    assert not result.ok
    assert "simulated crash" in result.errors[0]
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert entry.state == "pending" and entry.attempts == 1
    assert b"13800138000" in bytes(entry.body)
    assert Report.objects.count() == 0
    assert gateway.state.pending_reports() == 0, "the gateway will never return them again"

    monkeypatch.undo()
    result = poll(inbound=False)
    assert result.ok and result.recovered == 1
    assert Report.objects.count() == 2
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}
    entry.refresh_from_db()
    assert entry.state == "done" and entry.attempts == 2 and entry.records == 2
    assert poll(inbound=False).reports == 0
    assert Report.objects.count() == 2


def test_a_database_error_during_ingest_rolls_back_the_whole_entry(gateway, monkeypatch):
    send_sms(["13800138000", "13900000000"], "hello")
    real = reports._apply_reports

    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(reports, "_apply_reports", fail)
    assert not poll().ok
    assert Report.objects.count() == 0, "reports of a failed ingest are rolled back"
    monkeypatch.setattr(reports, "_apply_reports", real)
    assert poll().recovered == 1
    assert Report.objects.count() == 2


def test_an_unparseable_response_is_kept_and_reported(gateway):
    send_sms("13800138000", "x")
    gateway.inject_fault("garbage", method="queryReport")
    result = poll()
    assert not result.ok
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert entry.state == "pending" and "cannot be parsed" in entry.error
    assert bytes(entry.body).startswith(b"\x00\xffProxy error")


def test_orphan_report_is_matched_on_a_later_run(gateway, events):
    (message,) = send_sms("13800138000", "x")
    msgid = message.msgid
    Message.objects.filter(pk=message.pk).update(msgid="")  # as if its commit came later
    result = poll()
    assert (result.reports, result.reports_matched) == (1, 0)
    report = Report.objects.get()
    assert report.message is None
    Message.objects.filter(pk=message.pk).update(msgid=msgid)
    events.clear()
    result = poll()
    assert result.rematched == 1
    report.refresh_from_db()
    assert report.message_id == message.pk and report.matched_at is not None
    assert Message.objects.get().status == "delivered"
    assert [e[0] for e in events] == ["report_matched"]


def test_a_report_never_moves_a_message_backwards(gateway):
    from django_xunchen.fake_gateway import ReportRecord

    (message,) = send_sms("13800138000", "x")
    poll()
    assert Message.objects.get().status == "delivered"
    late_failure = ReportRecord(
        "13800138000", message.msgid, "UNDELIV", "2026-01-01 00:00:00", "", 0
    )
    gateway.state.reports[gateway.account.username].append(late_failure)
    assert poll().reports == 1
    message.refresh_from_db()
    assert (message.status, message.report_status) == ("delivered", "DELIVRD")
    assert Report.objects.count() == 2


def test_104_stores_nothing(gateway):
    result = poll()
    assert result.ok and result.reports == 0 and result.inbound == 0
    assert PollJournalEntry.objects.filter(state="done", records=0).count() == 2


def test_gateway_refusal_on_poll_is_an_error(gateway):
    gateway.account.very_code = "changed"
    result = poll()
    assert not result.ok
    assert any("105" in e for e in result.errors)
    assert PollJournalEntry.objects.filter(state="pending").count() == 0


def test_transport_error_on_fetch_is_an_error(gateway):
    gateway.inject_fault("http500", method="queryReport")
    result = poll(inbound=False)
    assert not result.ok and "HTTP 500" in result.errors[0]


def test_interval_is_respected_unless_forced(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "POLL_INTERVAL": 180}
    assert poll().skipped == []
    requests_before = len(gateway.requests)
    assert poll().skipped == ["delivery reports", "replies"]
    assert len(gateway.requests) == requests_before
    assert poll(force=True).skipped == []
    assert len(gateway.requests) == requests_before + 2


def test_the_lock_holds(gateway):
    holder = DatabaseLock(lock_name_for(), owner="other-host:1")
    assert holder.acquire()
    result = poll()
    assert result.locked_by == "other-host:1"
    assert gateway.requests == []
    holder.release()
    assert poll().locked_by is None


def test_a_dead_holders_lock_is_taken_over(gateway):
    past = timezone.now() - dt.timedelta(hours=1)
    PollLock.objects.create(name=lock_name_for(), owner="dead:1", acquired_at=past, expires_at=past)
    result = poll()
    assert result.locked_by is None and result.ok
    assert PollLock.objects.count() == 0


def test_a_receiver_that_raises_is_logged_and_loses_nothing(gateway, caplog):
    send_sms("13800138000", "x")

    def broken(sender, **kwargs):
        raise ValueError("receiver bug")

    report_received.connect(broken)
    try:
        with caplog.at_level(logging.ERROR, logger="django_xunchen.signals"):
            result = poll()
    finally:
        report_received.disconnect(broken)
    assert result.ok
    assert Report.objects.count() == 1
    assert "receiver" in caplog.text


def test_signals_are_sent_only_after_commit(gateway):
    send_sms("13800138000", "x")
    seen = []

    def receiver(sender, report, **kwargs):
        from django.db import connection

        seen.append((connection.in_atomic_block, Report.objects.filter(pk=report.pk).exists()))

    report_received.connect(receiver)
    try:
        poll()
    finally:
        report_received.disconnect(receiver)
    assert seen == [(False, True)]


def test_poll_refuses_to_run_inside_a_transaction(gateway):
    from django.db import transaction

    with pytest.raises(RuntimeError, match="inside a transaction"), transaction.atomic():
        poll()


def test_locmem_reports_and_replies():
    from django.test import override_settings

    from django_xunchen.backends import locmem

    with override_settings(
        XUNCHEN={
            "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
            "SENDER_NUMBER": locmem.SENDER_NUMBER,
        }
    ):
        send_sms(["13800138000", "13900000000"], "hi", extcode="5")
        assert locmem.deliver_all() == 2
        locmem.queue_reply("13800138000", "好", extcode="5")
        result = poll()
    assert (result.reports_matched, result.inbound_matched) == (2, 1)
    assert Message.objects.filter(status="delivered").count() == 2


def test_old_journal_entries_are_pruned(gateway):
    poll()
    PollJournalEntry.objects.update(ingested_at=timezone.now() - dt.timedelta(days=30))
    poll()
    assert PollJournalEntry.objects.count() == 2


@pytest.mark.parametrize(
    ("sequence", "status", "code", "time"),
    [
        ([("UNDELIV", "10:00:01"), ("DELIVRD", "10:00:05")], "delivered", "DELIVRD", "10:00:05"),
        ([("DELIVRD", "10:00:01"), ("UNDELIV", "10:00:05")], "delivered", "DELIVRD", "10:00:01"),
        ([("MA:0006", "10:00:01"), ("UNDELIV", "10:00:05")], "undelivered", "MA:0006", "10:00:01"),
    ],
)
def test_several_reports_for_one_message_in_one_response(gateway, sequence, status, code, time):
    from django_xunchen.client import CHINA_TZ
    from django_xunchen.fake_gateway import ReportRecord

    (message,) = send_sms("13800138000", "long message in parts")
    queue = gateway.state.reports[gateway.account.username]
    queue.clear()
    for report_status, at in sequence:
        queue.append(
            ReportRecord("13800138000", message.msgid, report_status, f"2026-11-26 {at}", "", 0)
        )
    assert poll(inbound=False).reports == 2
    message.refresh_from_db()
    assert (message.status, message.report_status) == (status, code)
    expected = dt.datetime.fromisoformat(f"2026-11-26T{time}").replace(tzinfo=CHINA_TZ)
    assert message.reported_at == expected


@pytest.mark.parametrize(
    ("recvcode_suffix", "wanted"),
    [("", "plain"), ("0", "ext 0"), ("5", None)],
)
def test_with_the_sender_number_the_extcode_is_read_exactly(
    settings, xunchen_outbox, recvcode_suffix, wanted
):
    """The sender number ends in 0, so a suffix match would take the ext-0 message for a
    reply to the bare number."""
    from django_xunchen.backends import locmem

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
        "SENDER_NUMBER": locmem.SENDER_NUMBER,
    }
    assert locmem.SENDER_NUMBER.endswith("0")
    (_plain,) = send_sms("13800138000", "plain")
    (_ext0,) = send_sms("13800138000", "ext 0", extcode="0")
    locmem.queue_reply("13800138000", "回复", extcode=recvcode_suffix)
    poll(reports=False, force=True)
    reply = InboundMessage.objects.get()
    assert (reply.message.content if reply.message else None) == wanted
    assert reply.extcode == recvcode_suffix


def test_without_the_sender_number_a_bare_reply_goes_to_the_message_without_extcode(
    settings, xunchen_outbox
):
    from django_xunchen.backends import locmem

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
        "SENDER_NUMBER": "",
    }
    send_sms("13800138000", "with ext", extcode="7")
    (plain,) = send_sms("13800138000", "plain")
    send_sms("13800138000", "with ext again", extcode="8")
    locmem.queue_reply("13800138000", "回复", extcode="")
    poll(reports=False, force=True)
    assert InboundMessage.objects.get().message == plain


def test_each_message_gets_its_own_report_code_time_and_signal_values(gateway, events):
    gateway.state.undeliverable.update({"13900000000", "13700000000"})
    send_sms(["13800138000", "13900000000", "13700000000"], "x")
    before = Message.objects.get(mobile="13800138000").updated_at
    stored_codes = {}
    for report in gateway.state.reports[gateway.account.username]:
        if report.mobile == "13700000000":
            report.status = "MK:0001"
        stored_codes[report.mobile] = report.status
    events.clear()
    assert poll(inbound=False).ok
    for message in Message.objects.all():
        assert message.report_status == stored_codes[message.mobile]
        assert message.reported_at is not None
    assert Message.objects.get(mobile="13800138000").updated_at > before
    for _name, kwargs in events:
        seen = kwargs["message"]
        stored = Message.objects.get(pk=seen.pk)
        assert (seen.status, seen.report_status, seen.reported_at) == (
            stored.status,
            stored.report_status,
            stored.reported_at,
        ), "receivers see what is stored"


def test_a_poll_of_replies_alone_leaves_orphan_reports_to_a_poll_of_reports(gateway):
    (message,) = send_sms("13800138000", "x")
    msgid = message.msgid
    Message.objects.filter(pk=message.pk).update(msgid="")  # as if its commit came later
    poll()
    Message.objects.filter(pk=message.pk).update(msgid=msgid)
    replies_only = poll(reports=False, force=True)
    assert replies_only.rematched == 0
    assert Report.objects.get().message is None
    assert poll(inbound=False, force=True).rematched == 1
    assert Report.objects.get().message_id == message.pk


class ParsesItsOwnReports(locmem.SMSBackend):
    """Overrides parse_reports(), as the docs allow, and reads the body it is given."""

    bodies: list = []

    def parse_reports(self, raw):
        ParsesItsOwnReports.bodies.append(raw.body)
        return super().parse_reports(raw)


def test_a_journal_body_read_back_as_a_memoryview_reaches_the_backend_as_bytes(
    settings, xunchen_outbox
):
    """psycopg2 reads a binary column back as a memoryview (psycopg 3, which the tests run,
    as bytes): RawResponse.body is bytes whatever the driver."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.ParsesItsOwnReports"}
    ParsesItsOwnReports.bodies = []
    send_sms(["13800138000"], "hello")
    locmem.queue_report("13800138000", locmem.outbox[0].msgid, "DELIVRD")
    body = locmem.SMSBackend().fetch_reports().body
    entry = PollJournalEntry.objects.create(
        operation="queryReport", body=body, fetched_at=timezone.now()
    )
    entry.body = memoryview(body)
    (group,) = gateway_accounts()
    result = PollResult()
    assert ingest._ingest(entry, group, result, max_attempts=3), result.errors
    assert result.reports_matched == 1
    assert ParsesItsOwnReports.bodies == [body] and type(ParsesItsOwnReports.bodies[0]) is bytes
