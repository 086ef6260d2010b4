"""Polling at its edges: the status rules, each message's own first report, signals sent
once per report to whoever listens, and the poll's bookkeeping."""

import datetime as dt

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen import signals as module
from django_xunchen.backends import locmem
from django_xunchen.models import Message, PollJournalEntry
from django_xunchen.polling.accounts import lock_name_for
from django_xunchen.polling.ingest import _failed
from django_xunchen.polling.reports import apply_report
from django_xunchen.polling.result import PollResult
from django_xunchen.polling.run import _too_soon

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


@pytest.mark.parametrize(
    ("before", "delivered", "after", "changed"),
    [
        (S.SENT, True, S.DELIVERED, True),
        (S.SENT, False, S.UNDELIVERED, True),
        (S.UNDELIVERED, True, S.DELIVERED, True),
        (S.UNDELIVERED, False, S.UNDELIVERED, False),
        (S.DELIVERED, False, S.DELIVERED, False),
        (S.FAILED, True, S.FAILED, False),
    ],
)
def test_a_report_moves_a_message_forward_never_back(before, delivered, after, changed):
    message = Message(mobile="13800138000", content="x", status=before)
    at = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)
    now = dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.timezone.utc)
    with time_machine.travel(now, tick=False):
        assert apply_report(message, "X", delivered, at) is changed
    assert message.status == after
    if changed:
        assert (message.report_status, message.reported_at, message.updated_at) == ("X", at, now)
    else:
        assert message.updated_at is None


def test_each_message_takes_its_own_first_report_of_its_outcome(xunchen_outbox):
    a, b = send_sms(["13800138001", "13800138002"], "x")
    locmem.queue_report(a.mobile, a.msgid, "UNDELIV")
    locmem.queue_report(a.mobile, a.msgid, "DELIVRD")
    locmem.queue_report(b.mobile, b.msgid, "REJECTD")
    poll(force=True)
    stored = {m.mobile: (m.status, m.report_status) for m in Message.objects.all()}
    assert stored == {a.mobile: (S.DELIVERED, "DELIVRD"), b.mobile: (S.UNDELIVERED, "REJECTD")}


@pytest.fixture
def only_single_report_listener():
    got = []

    def handler(sender, report, **kwargs):
        got.append(report.msgid)

    module.report_received.connect(handler)
    yield got
    module.report_received.disconnect(handler)


def test_a_site_listening_to_single_reports_hears_each_once(
    xunchen_outbox, only_single_report_listener
):
    first, second = send_sms(["13800138001", "13800138002"], "x")
    locmem.queue_report(first.mobile, first.msgid)
    poll(force=True)
    locmem.queue_report(second.mobile, second.msgid)
    poll(force=True)
    assert only_single_report_listener == [first.msgid, second.msgid]


def test_the_summary_of_several_accounts_one_line_each():
    result = PollResult()
    result.accounts = {"a": PollResult(), "b": PollResult()}
    result.spooled = 2
    assert result.summary().splitlines() == [
        "a: " + PollResult().summary(),
        "b: " + PollResult().summary(),
        "applied 2 spooled send outcomes",
    ]


def test_the_default_account_s_lock():
    assert lock_name_for() == lock_name_for("default")


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


def test_orphans_matched_later_take_their_own_first_report_of_their_outcome(xunchen_outbox):
    """Reports that came before their message had its msgid (the send had not
    committed) are matched by a later poll, each message to its own reports."""
    a, b, c = send_sms(["13800138001", "13800138002", "13800138003"], "x")
    Message.objects.update(msgid="")  # as if the sends had not committed yet
    locmem.queue_report(a.mobile, a.msgid, "UNDELIV")
    locmem.queue_report(a.mobile, a.msgid, "DELIVRD")
    locmem.queue_report(b.mobile, b.msgid, "REJECTD")
    locmem.queue_report(c.mobile, c.msgid, "EXPIRED")
    assert poll(force=True).reports_matched == 0
    for message in (a, b, c):
        Message.objects.filter(pk=message.pk).update(msgid=message.msgid)
    assert poll(force=True).rematched == 4
    stored = {m.mobile: (m.status, m.report_status) for m in Message.objects.all()}
    assert stored == {
        a.mobile: (S.DELIVERED, "DELIVRD"),
        b.mobile: (S.UNDELIVERED, "REJECTD"),
        c.mobile: (S.UNDELIVERED, "EXPIRED"),
    }


# ------------------------------------------------------------------ several accounts

LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def test_results_of_several_accounts_add_up_and_say_whose_each_line_is():
    total = PollResult()
    total.add(
        "a",
        PollResult(skipped=["reports"], errors=["boom"], locked_by="host-1", reports=2),
        several=True,
    )
    total.add("b", PollResult(skipped=["replies"], errors=["bang"], reports=3), several=True)
    assert (total.skipped, total.errors) == (["a: reports", "b: replies"], ["a: boom", "b: bang"])
    assert (total.reports, total.locked_by, list(total.accounts)) == (5, None, ["a", "b"])


def test_the_result_of_one_account_is_its_own():
    total = PollResult()
    total.add("a", PollResult(skipped=["reports"], errors=["boom"], locked_by="host-1"), False)
    assert (total.skipped, total.errors, total.locked_by) == (["reports"], ["boom"], "host-1")


def test_an_account_that_cannot_be_built_is_named_and_the_others_are_polled(
    settings, xunchen_outbox
):
    from django.core.exceptions import ImproperlyConfigured

    from django_xunchen.polling.accounts import gateway_accounts

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "a_broken": {"BACKEND": "nowhere.SMSBackend", "USERNAME": "X"},
            "default": {"BACKEND": LOCMEM},
            "z_also": {"BACKEND": LOCMEM, "USERNAME": "Z"},
        },
    }
    send_sms("13800138000", "您好")
    locmem.deliver_all()
    result = poll(force=True)
    assert result.reports_matched == 1
    assert list(result.accounts) == ["default", "z_also", "a_broken"]
    (error,) = result.errors
    assert error.startswith("a_broken: cannot import the SMS backend 'nowhere.SMSBackend': ")
    with pytest.raises(ImproperlyConfigured, match="nowhere"):
        gateway_accounts()


def test_poll_uses_the_backend_it_is_given_for_every_account(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "nowhere.SMSBackend"}
    send_sms("13800138000", "您好", backend=LOCMEM)
    locmem.deliver_all()
    result = poll(force=True, backend=LOCMEM)
    assert (result.errors, result.reports_matched) == ([], 1)


def _broken_and(settings, *good):
    accounts = {"a_broken": {"BACKEND": "nowhere.SMSBackend", "USERNAME": "X"}}
    for name in good:
        accounts[name] = {"BACKEND": LOCMEM, "USERNAME": name}
    settings.XUNCHEN = {**settings.XUNCHEN, "ACCOUNTS": accounts}


def test_with_one_good_account_the_broken_one_is_still_named(settings, xunchen_outbox):
    _broken_and(settings, "default")
    result = poll(force=True)
    (error,) = result.errors
    assert error.startswith("a_broken: cannot import the SMS backend")
    assert result.accounts["a_broken"].names == ["a_broken"]
    assert poll().skipped == ["default: delivery reports", "default: replies"], "too soon"
    assert poll(force=True, account="default").errors == [], "polling one account only"


def test_a_single_account_s_error_needs_no_name(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "nowhere.SMSBackend"}
    (error,) = poll(force=True).errors
    assert error.startswith("cannot import the SMS backend 'nowhere.SMSBackend'")


def test_poll_names_an_account_it_does_not_know():
    from django_xunchen.conf import UnknownAccount

    with pytest.raises(UnknownAccount, match=r"^no SMS account 'nope'$"):
        poll(account="nope")


def test_poll_refuses_to_run_inside_a_transaction(settings):
    from django.db import transaction

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "django_xunchen.backends.xunchen.SMSBackend"}
    with pytest.raises(RuntimeError) as refused, transaction.atomic():
        poll(force=True)
    assert str(refused.value) == (
        "poll() must not run inside a transaction: each raw response has to be committed "
        "before it is parsed"
    )


class Crashing(locmem.SMSBackend):
    def fetch_reports(self):
        raise ValueError("boom")


def test_an_unexpected_error_of_one_account_is_told_by_its_type(settings, xunchen_outbox):
    result = poll(force=True, backend=f"{__name__}.Crashing")
    assert result.errors == ["ValueError: boom"]
    assert result.accounts["default"].names == ["default"]


def test_each_account_keeps_its_own_poll_state(settings, xunchen_outbox):
    from django_xunchen.models import PollState

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "b": {"BACKEND": LOCMEM, "USERNAME": "B"}},
    }
    poll(force=True)
    assert PollState.objects.filter(operation="queryReport").count() == 2


def test_a_later_attempt_at_the_same_moment_replaces_the_error(db):
    from django_xunchen.models import PollState
    from django_xunchen.polling.journal import _note_attempt

    at = timezone.now()
    _note_attempt("default", "queryReport", at, "first")
    _note_attempt("default", "queryReport", at, "x" * 2500)
    assert PollState.objects.get().last_error == "x" * 2000


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
