"""Answers kept and imported by hand, at their edges: the error a refused journal gives
(what was refused, why, where it is kept), the account an import goes to when none is
named, what makes a kept answer "journaled already" (its account, operation and time,
all three), the size limit to the byte, a log's bytes literal in either quotes, and the
reason each refusal gives staff."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django.db import OperationalError

from django_xunchen import poll
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import PollJournalEntry
from django_xunchen.polling import fetch
from django_xunchen.polling import spool as poll_spool
from django_xunchen.polling.fetch import AnswerKept, import_answer

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
T0 = dt.datetime(2026, 12, 6, 18, 0, tzinfo=CHINA_TZ)
BODY = b"<sms><mt><status>0</status></mt></sms>"


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# ------------------------------------------------------------------ the refused journal


@pytest.mark.parametrize(
    ("fetched", "what"),
    [((), "a fetched answer"), ((False,), "an answer kept on disk")],
    ids=["fetched", "from disk"],
)
def test_the_kept_answer_error_says_what_was_refused_why_and_where(fetched, what):
    path = Path("/var/spool/xunchen/poll/1-2-ab.answer")
    error = AnswerKept(path, OperationalError("database is locked"), *fetched)
    assert str(error) == (
        f"the database refused to journal {what} (OperationalError: database is locked); "
        f"it is kept in {path}, and the next poll_sms journals it before fetching anything new"
    )
    assert error.path == path


def test_a_poll_whose_journal_is_refused_names_the_database_error_and_the_kept_file(
    monkeypatch, xunchen_outbox
):
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(fetch, "_journal", locked)
    locmem.queue_report("13800138000", "m-1", "DELIVRD")
    first = poll(force=True, inbound=False)
    (kept,) = poll_spool.folder().iterdir()
    assert first.errors == [
        "the database refused to journal a fetched answer (OperationalError: database is "
        f"locked); it is kept in {kept}, and the next poll_sms journals it before fetching "
        "anything new"
    ]
    second = poll(force=True, inbound=False)
    assert second.errors == [
        "the database refused to journal an answer kept on disk (OperationalError: database "
        f"is locked); it is kept in {kept}, and the next poll_sms journals it before "
        "fetching anything new"
    ]


# ------------------------------------------------------------------ importing by hand


def test_an_answer_imported_without_an_account_goes_to_the_default_one_whole():
    entry = import_answer(BODY, "queryReport")
    assert (entry.account, entry.operation, entry.complete) == ("default", "queryReport", True)
    assert bytes(entry.body) == BODY
    assert poll(force=True, reports=False, inbound=False).recovered == 1


def test_a_bytes_literal_in_double_quotes_from_the_log_is_the_answer_itself():
    """Python writes a body holding a single quote between double quotes (the CRITICAL
    log's %r): it is read back as the bytes, not journaled as the literal's text."""
    body = b"<sms><mt><status>0</status></mt><mo><content>it's</content></mo></sms>"
    literal = repr(body).encode()
    assert literal.startswith(b'b"')
    entry = import_answer(b"  " + literal + b"\n", "queryMo")
    assert bytes(entry.body) == body


@pytest.fixture
def two_logins(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "b": {"BACKEND": LOCMEM, "USERNAME": "B"}},
    }


def kept_file(account="default", operation="queryReport", fetched_at=T0) -> bytes:
    return poll_spool.keep(account, operation, BODY, fetched_at, True).read_bytes()


@pytest.mark.parametrize(
    "journaled",
    [
        {"account": "b"},
        {"operation": "queryMo"},
        {"fetched_at": T0 + dt.timedelta(microseconds=1)},
    ],
    ids=["another account", "another operation", "another time"],
)
def test_a_kept_answer_is_journaled_already_only_by_its_own_account_operation_and_time(
    two_logins, journaled
):
    fields = {"account": "default", "operation": "queryReport", "fetched_at": T0, **journaled}
    PollJournalEntry.objects.create(body=BODY, complete=True, **fields)
    entry = import_answer(kept_file(), "queryReport", "default")
    assert (entry.account, entry.operation, entry.fetched_at) == ("default", "queryReport", T0)
    with pytest.raises(ValueError, match=exactly("this answer was journaled already")):
        import_answer(kept_file(), "queryReport", "default")
    assert PollJournalEntry.objects.count() == 2


def test_an_answer_of_exactly_the_size_limit_is_journaled(monkeypatch):
    monkeypatch.setattr(fetch, "MAX_QUERY_BODY_BYTES", len(BODY))
    assert bytes(import_answer(BODY, "queryReport").body) == BODY
    with pytest.raises(ValueError, match=exactly(f"the answer is over {len(BODY)} bytes")):
        import_answer(BODY + b" ", "queryReport")
    assert PollJournalEntry.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "operation", "message"),
    [
        (b" \n\t", "queryMo", "the answer is empty"),
        (b"b''", "queryMo", "the answer is empty"),
        (
            b"b'<sms>' + b'</sms>'",
            "queryMo",
            "the answer looks like a bytes literal from the log, but is not one",
        ),
        (b'b"<sms>\xe4\xbd\xa0</sms>"', "queryMo", "the answer looks like a bytes literal"),
    ],
    ids=["blank", "an empty literal", "an expression", "not ASCII"],
)
def test_an_import_refused_says_why(body, operation, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        import_answer(body, operation)
    assert PollJournalEntry.objects.count() == 0


def test_an_import_of_another_operation_s_file_or_of_no_operation_says_which():
    with pytest.raises(
        ValueError, match=exactly("the file holds a queryReport answer, not queryMo")
    ):
        import_answer(kept_file(), "queryMo")
    with pytest.raises(
        ValueError,
        match=exactly("operation must be 'queryReport' or 'queryMo', not 'queryNothing'"),
    ):
        import_answer(BODY, "queryNothing")
    assert PollJournalEntry.objects.count() == 0
