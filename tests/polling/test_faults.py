"""No report is lost to a cut-off body, an odd record or a stopped poller, and one bad
journal entry never fails every later poll."""

import datetime as dt

import pytest
import responses
from django.urls import reverse
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import (
    InboundMessage,
    Message,
    PollJournalEntry,
    PollLock,
    PollState,
    Report,
)
from django_xunchen.operations.checks import check_poll_health
from django_xunchen.polling.locks import DatabaseLock, LockLost
from django_xunchen.polling.result import PollResult

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


# ------------------------------------------------------------------ cut-off bodies


def test_a_report_answer_cut_mid_body_keeps_every_complete_report(gateway):
    numbers = [f"1380013{i:04d}" for i in range(40)]
    send_sms(numbers, "x")
    gateway.deliver_now()
    gateway.inject_fault("cutoff", method="queryReport")
    result = poll(inbound=False)
    assert not result.ok and "broke off" in result.errors[0]
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert entry.complete is False and entry.state == "salvaged"
    assert 10 < entry.records < 40
    assert "recovered" in entry.error
    assert Report.objects.count() == entry.records
    delivered = Message.objects.filter(status="delivered").count()
    assert delivered == entry.records, "each recovered report moved its message"
    later = poll(inbound=False, force=True)
    assert later.ok, later.errors
    assert later.recovered == 0, "a salvaged entry is not ingested again"


def test_a_complete_answer_that_is_not_well_formed_is_salvaged_and_reported_once(gateway):
    send_sms([f"1380013{i:04d}" for i in range(20)], "x")
    gateway.deliver_now()
    gateway.inject_fault("truncated", method="queryReport")
    result = poll(inbound=False)
    assert not result.ok
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert entry.complete and entry.state == "salvaged" and entry.records > 0
    assert Report.objects.count() == entry.records
    assert poll(inbound=False, force=True).ok


def test_an_entry_that_cannot_be_ingested_is_set_aside_after_a_few_attempts(settings, admin_client):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "JOURNAL_MAX_ATTEMPTS": 3}
    entry = PollJournalEntry.objects.create(
        operation="queryReport", body=b"<html>502 Bad Gateway</html>", fetched_at=timezone.now()
    )
    for attempt in (1, 2):
        result = poll(force=True)
        assert not result.ok
        entry.refresh_from_db()
        assert (entry.state, entry.attempts) == ("pending", attempt)
    third = poll(force=True)
    assert not third.ok and third.set_aside == 1 and "set aside" in third.errors[-1]
    entry.refresh_from_db()
    assert entry.state == "set_aside"
    assert poll(force=True).ok, "later polls are not failed by it"

    assert [m.id for m in check_poll_health(databases=["default"])] == ["django_xunchen.W003"]
    journal = reverse("admin:django_xunchen_polljournalentry_changelist")
    page = admin_client.get(journal).content.decode()
    assert "xunchen-poll-banner" in page and "set aside" in page

    admin_client.post(
        journal, {"action": "retry_ingest", "_selected_action": [entry.pk], "index": 0}
    )
    entry.refresh_from_db()
    assert (entry.state, entry.attempts) == ("pending", 0)


class CutAtTheEnd(locmem.SMSBackend):
    """An answer that broke off after its last byte had come: complete XML, but the
    transfer itself did not finish."""

    def fetch_reports(self):
        from django_xunchen.exceptions import ResponseCutOffError

        raise ResponseCutOffError(
            "queryReport: the answer broke off",
            b"<sms><mt><status>0</status></mt><rpt><mobile>13800138000</mobile>"
            b"<msgid>m1</msgid><status>DELIVRD</status></rpt></sms>",
        )


def test_a_complete_body_whose_transfer_broke_off_is_salvaged_and_says_so(xunchen_outbox):
    poll(force=True, inbound=False, backend=f"{__name__}.CutAtTheEnd")
    entry = PollJournalEntry.objects.get()
    assert (entry.state, entry.records) == ("salvaged", 1)
    assert entry.error == (
        "the answer broke off. 1 complete records were recovered; any after the break are "
        "lost (the gateway returns each record once only)."
    )


# ------------------------------------------------------------------ odd records


class RawBackend(locmem.SMSBackend):
    reports = b""
    replies = b""

    def fetch_reports(self):
        from django_xunchen.client.types import RawResponse

        return RawResponse("queryReport", self.reports)

    def fetch_inbound(self):
        from django_xunchen.client.types import RawResponse

        return RawResponse("queryMo", self.replies)


def _report(mobile, msgid, status="DELIVRD"):
    return (
        f"<rpt><mobile>{mobile}</mobile><msgid>{msgid}</msgid><status>{status}</status>"
        f"<time>2026-01-01 10:00:00</time><extno></extno></rpt>"
    )


def test_one_over_long_record_never_poisons_the_response(xunchen_outbox, monkeypatch):
    (message,) = send_sms("13800138000", "x", backend=LOCMEM)
    RawBackend.reports = (
        "<sms><mt><status>0</status></mt>"
        + _report("1" * 30, "m1")
        + _report("13800138000", message.msgid)
        + _report("13900000000", "m2", status="X" * 80)
        + "</sms>"
    ).encode()
    RawBackend.replies = (
        "<sms><mt><status>0</status></mt><mo><mobile>13800138000</mobile>"
        f"<recvcode>{'9' * 50}</recvcode><content>好</content>"
        "<time>2026-01-01 10:00:00</time></mo></sms>"
    ).encode()
    result = poll(backend=f"{__name__}.RawBackend")
    assert result.ok, result.errors
    assert Report.objects.count() == 3
    assert Report.objects.get(msgid="m1").mobile == "1" * 20
    assert sorted(Report.objects.filter(truncated=True).values_list("msgid", flat=True)) == [
        "m1",
        "m2",
    ]
    assert Message.objects.get().status == "delivered", "the rest was ingested"
    reply = InboundMessage.objects.get()
    assert reply.truncated and reply.recvcode == "9" * 32
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert b"1" * 30 in bytes(entry.body), "the journal keeps the full record"


@responses.activate
def test_an_over_long_status_in_a_send_answer_fails_the_row_and_never_escapes(settings):
    url = "http://gateway.test:8030/service/httpService/httpInterface.do"
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://gateway.test:8030",
        "USERNAME": "u",
        "PASSWORD": "p",
        "VERY_CODE": "k",
    }
    status = "9" * 40
    responses.post(url, body=f"<sms><mt><status>{status}</status></mt></sms>")
    (message,) = send_sms("13800138000", "x", fail_silently=True)
    stored = Message.objects.get()
    assert stored.status == message.status == "failed"
    assert stored.error_code == status[:16]
    assert status in stored.error_message


@responses.activate
@pytest.mark.parametrize("page", ["balance", "dashboard"])
def test_a_comment_before_the_declaration_is_a_balance_not_a_500(settings, admin_client, page):
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://gateway.test:8030",
        "USERNAME": "u",
        "PASSWORD": "p",
        "VERY_CODE": "k",
    }
    responses.post(
        "http://gateway.test:8030/service/httpService/httpInterface.do",
        body=b"<!-- balance --><?xml version='1.0' encoding='UTF-8'?>"
        b"<sms><mt><status>0</status><account>321.5</account></mt></sms>",
    )
    response = admin_client.get(reverse(f"admin:django_xunchen_message_{page}"))
    assert response.status_code == 200
    assert "321.5" in response.content.decode()


# ------------------------------------------------------------------ the lock


def test_a_poll_that_lost_its_lock_stops_before_its_next_fetch(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.TakenOverMidPoll"}
    locmem.queue_reply("13800138000", "好")
    result = poll(force=True)
    assert any("no longer held" in e for e in result.errors)
    assert InboundMessage.objects.count() == 0
    assert locmem._replies, "the replies were never fetched"
    assert PollLock.objects.get().owner == "thief:1", "nor is the thief's lock released"


class TakenOverMidPoll(locmem.SMSBackend):
    def fetch_reports(self):
        PollLock.objects.update(owner="thief:1")
        return super().fetch_reports()


def test_refresh_raises_once_the_lock_was_taken_over():
    mine = DatabaseLock("t", timeout=60, owner="me")
    assert mine.acquire()
    mine.refresh()
    PollLock.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    other = DatabaseLock("t", timeout=60, owner="other")
    assert other.acquire(), "an expired lock is taken over"
    with pytest.raises(LockLost):
        mine.refresh()
    mine.release()
    assert PollLock.objects.get().owner == "other", "a stale owner never deletes it"


def test_refresh_pushes_the_expiry_forward():
    lock = DatabaseLock("t", timeout=60, owner="me")
    assert lock.acquire()
    PollLock.objects.update(expires_at=timezone.now() + dt.timedelta(seconds=1))
    lock.refresh()
    assert PollLock.objects.get().expires_at > timezone.now() + dt.timedelta(seconds=50)
    assert not DatabaseLock("t", owner="other").acquire()


# ------------------------------------------------------------------ messages


def test_a_fetch_error_names_its_operation_once(settings, db):
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://127.0.0.1:9",
        "USERNAME": "u",
        "PASSWORD": "p",
        "VERY_CODE": "k",
    }
    result = poll(inbound=False)
    assert result.errors == ["queryReport: cannot connect to the gateway"]


def test_ingesting_an_old_entry_never_makes_polling_look_older(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    assert poll(force=True).ok
    latest = PollState.objects.get(operation="queryReport").last_success_at
    PollJournalEntry.objects.create(
        operation="queryReport",
        body=b"<sms><mt><status>104</status></mt></sms>",
        fetched_at=latest - dt.timedelta(hours=2),
    )
    assert poll(force=True).recovered == 1
    assert PollState.objects.get(operation="queryReport").last_success_at >= latest


def test_a_summary_names_everything_a_poll_did():

    result = PollResult(
        reports=3,
        reports_matched=2,
        inbound=1,
        inbound_matched=0,
        rematched=4,
        recovered=5,
        spooled=6,
        set_aside=7,
        skipped=["delivery reports", "replies"],
        errors=["a", "b"],
    )
    assert result.summary() == (
        "reports 3 (2 matched); replies 1 (0 matched); orphans matched 4; recovered 5 "
        "journal entries; applied 6 spooled send outcomes; set aside 7 journal entries for "
        "staff; too soon for delivery reports, replies; 2 errors: a; b"
    )
    assert not result.ok
    assert PollResult(locked_by="h:1").summary() == "poll skipped: another poll is running (h:1)"


def test_each_entry_set_aside_is_counted_and_named(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "JOURNAL_MAX_ATTEMPTS": 1}
    for _ in range(2):
        PollJournalEntry.objects.create(
            operation="queryMo", body=b"not xml", fetched_at=timezone.now()
        )
    result = poll(force=True)
    assert result.set_aside == 2
    assert all("cannot be parsed: MalformedResponseError" in e for e in result.errors)
    assert all(e.endswith("see the poll journal in the admin") for e in result.errors)
    stored = PollJournalEntry.objects.filter(state="set_aside").first().error
    assert stored.startswith("journal entry") and "MalformedResponseError" in stored
