"""What a poll writes down about itself: journal entries (their errors, and pending
ones retried), the health state, the interval since the last poll, the counts of a run
over several entries, and what it prunes."""

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Message, PollJournalEntry, PollLock, PollState
from django_xunchen.polling import ingest
from django_xunchen.polling.ingest import _failed
from django_xunchen.polling.result import PollResult
from django_xunchen.polling.run import _too_soon

pytestmark = pytest.mark.django_db(transaction=True)


def _reports_body(*pairs):
    records = "".join(
        f"<rpt><mobile>{m}</mobile><msgid>{i}</msgid><status>DELIVRD</status>"
        f"<time>2026-01-01 10:00:00</time><extno></extno></rpt>"
        for m, i in pairs
    )
    return f"<sms><mt><status>0</status></mt>{records}</sms>".encode()


def test_an_ingested_entry_records_its_count_time_and_no_error(on_locmem):
    (_message,) = send_sms("13800138000", "x")
    locmem.deliver_all()
    poll(inbound=False, force=True)
    entry = PollJournalEntry.objects.get(operation="queryReport", records=1)
    assert (entry.state, entry.error, entry.attempts) == ("done", "", 1)
    assert entry.ingested_at is not None and entry.ingested_at >= entry.fetched_at
    state = PollState.objects.get(operation="queryReport")
    assert state.last_success_at == entry.fetched_at and state.last_error == ""


def test_a_refused_query_is_done_with_no_records_and_its_error(gateway):
    gateway.account.very_code = "changed"
    poll(inbound=False)
    entry = PollJournalEntry.objects.get(operation="queryReport")
    assert (entry.state, entry.records) == ("done", 0)
    assert entry.ingested_at is not None and "105" in entry.error
    state = PollState.objects.get(operation="queryReport")
    assert state.last_success_at is None
    assert state.last_attempt_at == entry.fetched_at and "105" in state.last_error


@pytest.mark.parametrize("fault", ["refused", "cutoff"])
def test_a_failed_fetch_is_written_into_the_health_state(gateway, settings, refusing_url, fault):
    if fault == "refused":
        settings.XUNCHEN = {**settings.XUNCHEN, "BASE_URL": refusing_url}
        words = "queryReport: cannot connect to the gateway"
    else:
        send_sms("13800138000", "x")
        gateway.deliver_now()
        gateway.inject_fault("cutoff", method="queryReport")
        words = "broke off"
    before = timezone.now()
    poll(inbound=False)
    state = PollState.objects.get(operation="queryReport")
    assert words in state.last_error
    assert state.last_attempt_at >= before and state.last_success_at is None


def test_a_run_over_several_entries_adds_up_its_counts(on_locmem):
    first, second = send_sms(["13800138000", "13900000000"], "x")
    now = timezone.now()
    PollJournalEntry.objects.create(
        operation="queryReport",
        body=_reports_body((first.mobile, first.msgid), ("13700000000", "nope")),
        fetched_at=now,
    )
    PollJournalEntry.objects.create(
        operation="queryReport", body=_reports_body((second.mobile, second.msgid)), fetched_at=now
    )
    for text in ("a", "b"):
        PollJournalEntry.objects.create(
            operation="queryMo",
            body=(
                "<sms><mt><status>0</status></mt><mo><mobile>13800138000</mobile>"
                f"<recvcode>1</recvcode><content>{text}</content><time></time></mo></sms>"
            ).encode(),
            fetched_at=now,
        )
    result = poll(force=True)
    assert result.recovered == 4
    assert (result.reports, result.reports_matched) == (3, 2)
    assert (result.inbound, result.inbound_matched) == (2, 2)
    assert set(Message.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_salvaged_complete_entry_is_named_in_the_errors(on_locmem):
    entry = PollJournalEntry.objects.create(
        operation="queryReport",
        body=_reports_body(("13800138000", "1"))[:-5],
        fetched_at=timezone.now(),
    )
    result = poll(inbound=False, force=True)
    assert result.errors == [
        f"journal entry {entry.pk} (queryReport) is not well-formed: "
        + PollJournalEntry.objects.get(pk=entry.pk).error
    ]
    entry.refresh_from_db()
    assert entry.error.startswith("the XML stops or breaks after 1 complete records")
    assert entry.error.endswith("are lost (the gateway returns each record once only).")


def test_an_entry_that_could_not_be_stored_says_so(on_locmem, monkeypatch):
    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(ingest, "_store_reports", fail)
    PollJournalEntry.objects.create(
        operation="queryReport", body=_reports_body(("1", "2")), fetched_at=timezone.now()
    )
    result = poll(inbound=False, force=True)
    assert any("could not be stored: DatabaseError: disk full" in e for e in result.errors)
    assert set(PollJournalEntry.objects.values_list("state", flat=True)) == {"pending"}


def test_only_old_done_entries_are_pruned(on_locmem, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "JOURNAL_RETENTION_DAYS": 7}
    old = timezone.now() - dt.timedelta(days=8)
    for state in ("done", "salvaged", "set_aside", "pending"):
        PollJournalEntry.objects.create(
            operation="queryMo", body=b"x", fetched_at=old, ingested_at=old, state=state
        )
    PollJournalEntry.objects.update(attempts=99)
    settings.XUNCHEN = {**settings.XUNCHEN, "JOURNAL_MAX_ATTEMPTS": 100}
    poll(reports=False, force=True)
    left = set(PollJournalEntry.objects.filter(fetched_at=old).values_list("state", flat=True))
    assert "done" not in left
    assert {"salvaged", "set_aside"} <= left


def test_the_lock_lasts_lock_timeout(on_locmem, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "LOCK_TIMEOUT": 1234, "BACKEND": f"{__name__}.Peek"}
    poll(force=True)
    (held_for,) = Peek.seen
    assert dt.timedelta(seconds=1234) <= held_for < dt.timedelta(seconds=1240)
    assert not PollLock.objects.exists()


class Peek(locmem.SMSBackend):
    seen: list = []

    def fetch_reports(self):
        lock = PollLock.objects.get()
        Peek.seen = [lock.expires_at - lock.acquired_at]
        return super().fetch_reports()


def test_a_poll_exactly_one_interval_after_the_last_is_not_too_soon(db):
    fetched = timezone.now()
    PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"", fetched_at=fetched
    )
    with time_machine.travel(fetched + dt.timedelta(seconds=59), tick=False):
        assert _too_soon(["default"], "queryReport", 60)
    with time_machine.travel(fetched + dt.timedelta(seconds=60), tick=False):
        assert not _too_soon(["default"], "queryReport", 60)


def test_a_journal_entry_s_error_is_kept_to_2000_characters(db):
    entry = PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"", fetched_at=timezone.now()
    )
    _failed(entry, ValueError("x" * 3000), PollResult(), "could not be parsed", 5)
    error = PollJournalEntry.objects.get().error
    assert len(error) == 2000 and error.startswith(f"journal entry {entry.pk} (queryReport)")


def _pending(body):
    return PollJournalEntry.objects.create(
        operation="queryReport", body=body, fetched_at=timezone.now()
    )


def test_a_pending_refusal_is_done_and_counts_as_recovered(settings, xunchen_outbox):
    _pending(b"<sms><mt><status>101</status></mt></sms>")
    result = poll(force=True, inbound=False)
    assert result.recovered == 1
    entry = PollJournalEntry.objects.order_by("pk").first()
    assert (entry.state, entry.records) == ("done", 0) and "101" in entry.error


def test_a_pending_entry_that_fails_again_is_not_recovered(settings, xunchen_outbox, monkeypatch):
    from django_xunchen.polling import reports

    _pending(b"<html>502</html>")
    assert poll(force=True, inbound=False).recovered == 0, "cannot be parsed"
    PollJournalEntry.objects.all().delete()
    send_sms("13800138000", "x")
    locmem.deliver_all()

    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(reports, "_apply_reports", fail)
    poll(force=True, inbound=False)
    assert poll(force=True, inbound=False).recovered == 0, "could not be stored"
