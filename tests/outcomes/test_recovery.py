"""A delivery report proves its request was accepted: the rows of a request whose outcome
was lost take the msgid of its reports when exactly one lost request can be theirs
(django_xunchen.recovery), over real HTTP to the fake gateway."""

import datetime as dt
import logging
import uuid

import pytest
import time_machine
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.client.types import CHINA_TZ, DeliveryReport
from django_xunchen.exceptions import OutcomeUnknownError
from django_xunchen.fake_gateway.state import ReportRecord
from django_xunchen.models import Message, Report
from django_xunchen.polling import journal, reports

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
T0 = dt.datetime(2026, 11, 20, 9, 0, 0, 400000, tzinfo=CHINA_TZ)


def at(seconds):
    return time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False)


def lost_send(gateway, numbers, content="lost"):
    """A send the gateway accepts whose answer never comes back: its rows end unknown."""
    gateway.inject_fault("drop", method="sendUtf8Msg")
    with pytest.raises(OutcomeUnknownError):
        send_sms(numbers, content)
    rows = Message.objects.filter(content=content)
    assert {(r.status, r.msgid) for r in rows} == {(S.UNKNOWN, "")}
    assert len({r.request for r in rows}) == 1 and rows[0].request is not None
    return gateway.submissions[-1].msgid


def delivered_now(gateway):
    gateway.deliver_now()
    for pending in gateway.state.reports.values():
        for record in pending:
            record.due = 0


def only_reports_of(gateway, *msgids):
    queue = gateway.state.reports[gateway.account.username]
    queue[:] = [r for r in queue if r.msgid in msgids]
    return queue


def test_a_lost_request_takes_the_msgid_of_its_reports_and_is_delivered(gateway, events):
    numbers = ["13800138000", "13900000000"]
    with at(0):
        msgid = lost_send(gateway, numbers)
        request = Message.objects.first().request
    events.clear()
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    assert result.ok, result.errors
    assert (result.reports, result.reports_matched, result.requests_recovered) == (2, 2, 1)
    assert "msgid recovered from reports for 1 lost requests" in result.summary()
    rows = Message.objects.order_by("mobile")
    assert [(r.mobile, r.status, r.msgid, r.request) for r in rows] == [
        (n, S.DELIVERED, msgid, request) for n in numbers
    ]
    assert all(r.error_message == "" and r.submitted_at == T0 for r in rows)
    assert set(Report.objects.values_list("message__mobile", flat=True)) == set(numbers)
    sent = sorted(kw["message"].mobile for name, kw in events if name == "message_sent")
    assert sent == numbers


def test_two_lost_requests_to_the_number_leave_its_report_unmatched_and_counted(gateway, caplog):
    with at(0):
        first = lost_send(gateway, "13800138000", "one")
    with at(10):
        lost_send(gateway, "13800138000", "two")
    (report,) = only_reports_of(gateway, first)
    report.time = (T0 + dt.timedelta(seconds=20)).strftime("%Y-%m-%d %H:%M:%S")
    with at(30), caplog.at_level(logging.WARNING, "django_xunchen.polling"):
        delivered_now(gateway)
        result = poll(inbound=False)
    assert (result.reports, result.reports_matched, result.requests_recovered) == (1, 0, 0)
    assert result.reports_ambiguous == 1
    assert "1 reports left unmatched: more than one lost request" in result.summary()
    assert "could belong to any of 2 requests" in caplog.text
    assert Report.objects.get().message is None
    assert set(Message.objects.values_list("status", "msgid")) == {(S.UNKNOWN, "")}
    with at(300):  # the orphan is looked at again, and counted again
        again = poll(inbound=False, force=True)
    assert (again.rematched, again.reports_ambiguous) == (0, 1)
    assert Report.objects.get().message is None


def test_a_request_claimed_after_the_report_time_is_not_a_candidate(gateway):
    with at(0):  # claimed at 09:00:00.4; its report says 09:00:00, to the second
        first = lost_send(gateway, "13800138000", "one")
    with at(20):
        second = lost_send(gateway, "13800138000", "two")
    (_, late) = only_reports_of(gateway, first, second)
    late.time = (T0 + dt.timedelta(seconds=25)).strftime("%Y-%m-%d %H:%M:%S")
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    # The first report has one candidate (the second request came after it); the second
    # report had two until the first request took its msgid, then one.
    assert (result.requests_recovered, result.reports_ambiguous) == (2, 0)
    assert sorted(Message.objects.values_list("content", "status", "msgid")) == [
        ("one", S.DELIVERED, first),
        ("two", S.DELIVERED, second),
    ]


def test_a_request_claimed_after_the_report_alone_is_not_taken(gateway):
    with at(0):
        lost_send(gateway, "13800138000", "one")
    Message.objects.update(requested_at=T0 + dt.timedelta(seconds=1))
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    counts = (result.reports_matched, result.requests_recovered, result.reports_ambiguous)
    assert counts == (0, 0, 0)
    assert Message.objects.get().status == S.UNKNOWN


def test_a_request_outside_the_match_window_is_not_a_candidate(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "MATCH_WINDOW_DAYS": 2}
    day = 24 * 3600
    with at(0):
        old = lost_send(gateway, ["13800138000", "13900000000"], "old")
    with at(day):
        recent = lost_send(gateway, "13800138000", "recent")
    queue = only_reports_of(gateway, old, recent)
    queue[:] = [r for r in queue if (r.msgid, r.mobile) != (old, "13800138000")]
    late = (T0 + dt.timedelta(seconds=2 * day + 30)).strftime("%Y-%m-%d %H:%M:%S")
    for record in queue:  # two days and 30 s after the old request, a day after the other
        record.time = late
    # A report of a day ago in the same answer, of a message sent elsewhere: the old
    # request is within two days of it, not of the others.
    earlier = (T0 + dt.timedelta(seconds=day)).strftime("%Y-%m-%d %H:%M:%S")
    queue.append(ReportRecord("13700000000", "elsewhere", "DELIVRD", earlier, "", 0.0))
    with at(2 * day + 60):
        delivered_now(gateway)
        result = poll(inbound=False)
    assert (result.reports, result.requests_recovered, result.reports_ambiguous) == (3, 1, 0)
    assert sorted(Message.objects.values_list("content", "mobile", "status")) == [
        ("old", "13800138000", S.UNKNOWN),
        ("old", "13900000000", S.UNKNOWN),
        ("recent", "13800138000", S.DELIVERED),
    ]


def test_reports_of_one_msgid_must_agree_on_the_request(gateway):
    with at(0):
        lost_send(gateway, "13800138000", "one")
    with at(10):
        lost_send(gateway, "13900000000", "two")
    pending = gateway.state.reports[gateway.account.username]
    for record in pending:
        record.msgid = "shared"  # one msgid, whose numbers went in two different requests
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    assert (result.reports_matched, result.requests_recovered) == (0, 0)
    assert set(Message.objects.values_list("status", flat=True)) == {S.UNKNOWN}


def test_a_request_without_a_number_of_the_msgid_is_not_its_request(gateway):
    with at(0):
        msgid = lost_send(gateway, "13800138000", "one")
    (report,) = gateway.state.reports[gateway.account.username]
    stranger = ReportRecord("13900000000", msgid, "DELIVRD", report.time, "", 0.0)
    gateway.state.reports[gateway.account.username].append(stranger)
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    assert (result.reports_matched, result.requests_recovered) == (0, 0)
    assert Message.objects.get().status == S.UNKNOWN


def test_a_request_two_msgids_point_to_is_taken_by_neither(gateway):
    with at(0):
        lost_send(gateway, "13800138000", "one")
    (report,) = gateway.state.reports[gateway.account.username]
    twin = ReportRecord(report.mobile, "another", "DELIVRD", report.time, "", 0.0)
    gateway.state.reports[gateway.account.username].append(twin)
    with at(30):
        delivered_now(gateway)
        result = poll(inbound=False)
    counts = (result.reports_matched, result.requests_recovered, result.reports_ambiguous)
    assert counts == (0, 0, 2)
    assert Message.objects.get().msgid == ""


def rows_left_sending(numbers, at_time, request=None):
    """Rows as a send killed mid-request leaves them: ``sending``, claimed at ``at_time``."""
    request = request or uuid.uuid4()
    with time_machine.travel(at_time, tick=False):
        for number in numbers:
            Message.objects.create(
                mobile=number,
                content="killed",
                status=S.SENDING,
                claim=request,
                request=request,
                requested_at=timezone.now(),
            )
    return request


def test_rows_still_sending_wait_for_the_stale_margin_then_orphans_are_recovered(gateway):
    request = rows_left_sending(["13800138000"], T0)
    when = (T0 + dt.timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S")
    gateway.state.reports[gateway.account.username] = [
        ReportRecord("13800138000", "m-1", "DELIVRD", when, "", 0.0)
    ]
    with at(10):  # the request may still be in flight: nothing is taken
        result = poll(inbound=False)
    assert (result.reports_matched, result.requests_recovered) == (0, 0)
    assert Message.objects.get().status == S.SENDING
    with at(3600):  # long past the stale margin, not yet swept: the orphan recovers it
        result = poll(inbound=False, force=True)
    assert (result.rematched, result.requests_recovered) == (1, 1)
    message = Message.objects.get()
    assert (message.status, message.msgid, message.request, message.claim) == (
        S.DELIVERED,
        "m-1",
        request,
        None,
    )
    assert Report.objects.get().message == message


def test_the_stale_sweep_keeps_the_request(gateway):
    from django_xunchen import send_queued

    request = rows_left_sending(["13800138000", "13900000000"], T0)
    with at(3600):
        assert send_queued()["stale"] == 2
    assert set(Message.objects.values_list("status", "claim", "request")) == {
        (S.UNKNOWN, None, request)
    }


def test_reports_that_all_match_cost_no_recovery_query(gateway):
    """Only msgids on no message go to recovery: one query for them all."""
    with at(0):
        send_sms(["13800138000", "13900000000"], "fine")
    msgid = Message.objects.first().msgid
    entry = journal._journal("default", "queryReport", b"", timezone.now(), True)
    records = [
        DeliveryReport(n, msgid, "DELIVRD", True, T0) for n in ("13800138000", "13900000000")
    ]
    with CaptureQueriesContext(connection) as all_matched:
        reports._store_reports(entry, records, ["default"])
    assert Message.objects.filter(status=S.DELIVERED).count() == 2
    assert not [q for q in all_matched.captured_queries if '"request"' in q["sql"]]
    lost = [DeliveryReport(f"1380013800{n}", f"elsewhere-{n}", "DELIVRD", True, T0) for n in "12"]
    entry = journal._journal("default", "queryReport", b"", timezone.now(), True)
    with CaptureQueriesContext(connection) as none_lost:
        reports._store_reports(entry, lost, ["default"])
    assert len([q for q in none_lost.captured_queries if '"request"' in q["sql"]]) == 1


def test_recovery_with_use_tz_false(gateway):
    with override_settings(USE_TZ=False, TIME_ZONE="Asia/Shanghai"):
        with at(0):
            msgid = lost_send(gateway, ["13800138000"])
        with at(30):
            delivered_now(gateway)
            result = poll(inbound=False)
        assert result.requests_recovered == 1, result.errors
        message = Message.objects.get()
        assert (message.status, message.msgid) == (S.DELIVERED, msgid)
        assert message.submitted_at.tzinfo is None


def test_a_poll_counts_the_requests_recovered_from_every_answer_it_ingests(gateway):
    """An answer imported by hand and the poll's own fetch each recover a lost request."""
    from django_xunchen.fake_gateway.responses import reports_text
    from django_xunchen.polling import import_answer

    with at(0):
        first = lost_send(gateway, "13800138000", "one")
        second = lost_send(gateway, "13900000000", "two")
    with at(20):
        delivered_now(gateway)
        queue = gateway.state.reports[gateway.account.username]
        imported = [r for r in queue if r.msgid == first]
        queue[:] = [r for r in queue if r.msgid == second]
        import_answer(reports_text(imported).encode(), "queryReport")
    with at(30):
        result = poll(inbound=False)
    assert result.ok, result.errors
    assert (result.reports, result.requests_recovered) == (2, 2)
    assert sorted(Message.objects.values_list("content", "status", "msgid")) == [
        ("one", S.DELIVERED, first),
        ("two", S.DELIVERED, second),
    ]
