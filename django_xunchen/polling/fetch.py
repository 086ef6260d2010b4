"""Fetch an answer and keep it: in the journal, or on disk when the database refuses.

An answer the gateway handed over is not given again, so it is written somewhere durable
before anything parses it; a kept file is journaled on the next poll or imported by hand
(``poll_sms --import-answer``)."""

from __future__ import annotations

import ast
import datetime as dt
import logging
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from ..client.parsing import MAX_QUERY_BODY_BYTES
from ..client.types import RawResponse
from ..conf import UnknownAccount
from ..db import to_db_datetime
from ..exceptions import ResponseCutOffError, XunchenError
from ..models import PollJournalEntry
from . import spool as poll_spool
from .accounts import GatewayAccount, gateway_accounts
from .journal import _journal, _note_attempt
from .result import PollResult

logger = logging.getLogger("django_xunchen.polling")
Op = PollJournalEntry.Operation


def _fetch_and_journal(
    operation: str, group: GatewayAccount, result: PollResult
) -> PollJournalEntry | None:
    sms_backend = group.backend
    fetch = sms_backend.fetch_reports if operation == Op.REPORTS else sms_backend.fetch_inbound
    now = timezone.now()
    error = ""
    try:
        raw: RawResponse = fetch()
        body, complete = raw.body, True
    except XunchenError as exc:
        logger.error("%s (account %r)", exc, group.name)
        result.errors.append(str(exc))
        error = str(exc)
        # A cut-off answer: the gateway has handed its records over, so keep what arrived.
        body = exc.received if isinstance(exc, ResponseCutOffError) else b""
        complete = False
    entry = None
    if body.strip():
        try:
            entry = _journal(group.name, operation, body, now, complete)
        except DatabaseError as exc:
            _keep_on_disk(group.name, operation, body, now, complete, exc)
            raise
    if error:
        _note_attempt(group.name, operation, now, error)
    return entry


class AnswerKept(Exception):
    """The database refused a fetched answer, which is now on disk
    (:mod:`django_xunchen.polling.spool`) for the next ``poll_sms`` to journal. The poll
    stops: the database is refusing."""

    def __init__(self, path: Path, cause: DatabaseError, fetched: bool = True) -> None:
        what = "a fetched answer" if fetched else "an answer kept on disk"
        super().__init__(
            f"the database refused to journal {what} ({type(cause).__name__}: {cause}); "
            f"it is kept in {path}, and the next poll_sms journals it before fetching "
            "anything new"
        )
        self.path = path


def _keep_on_disk(
    account: str,
    operation: str,
    body: bytes,
    fetched_at: dt.datetime,
    complete: bool,
    cause: DatabaseError,
) -> None:
    """Write an answer the journal refused to the poll folder of the spool and raise
    :class:`AnswerKept`; if the disk refuses too, log the whole answer at CRITICAL (the
    gateway will not send its records again) and return, so that the database error is
    raised."""
    try:
        path = poll_spool.keep(account, operation, body, fetched_at, complete)
    except (OSError, ImproperlyConfigured) as exc:
        logger.critical(
            "could not journal a %s answer of account %r (%s: %s), nor keep it on disk "
            "(%s); its records are only here, fetched at %s. Save the next line to a file "
            "and give it to poll_sms --import-answer:\n%r",
            operation,
            account,
            type(cause).__name__,
            cause,
            exc,
            fetched_at.isoformat(),
            body,
        )
        return
    logger.error(
        "could not journal a %s answer of account %r (%s: %s); kept in %s",
        operation,
        account,
        type(cause).__name__,
        cause,
        path,
    )
    raise AnswerKept(path, cause) from cause


def import_answer(body: bytes, operation: str, account: str = "default") -> PollJournalEntry:
    """Journal a raw answer by hand: one that the database and the disk both refused, and
    that staff copied from the CRITICAL log (the bytes literal), a file of the poll
    folder that was set aside (journaled once only), or the bytes themselves. The next
    poll of ``account`` ingests it."""
    if operation not in (Op.REPORTS, Op.INBOUND):
        raise ValueError(
            f"operation must be {Op.REPORTS.value!r} or {Op.INBOUND.value!r}, not {operation!r}"
        )
    group = next((g for g in gateway_accounts() if account in g.names), None)
    if group is None:
        raise UnknownAccount(f"no SMS account {account!r}")
    fetched_at = timezone.now()
    kept = poll_spool.from_bytes(body)
    if kept is not None:  # a file of the poll folder, set aside or copied
        if kept.operation != operation:
            raise ValueError(f"the file holds a {kept.operation} answer, not {operation}")
        body, fetched_at = kept.body, to_db_datetime(kept.fetched_at)
        if PollJournalEntry.objects.filter(
            account=group.name, operation=operation, fetched_at=fetched_at
        ).exists():
            raise ValueError("this answer was journaled already")
    body = _from_log(body)
    if not body.strip():
        raise ValueError("the answer is empty")
    if len(body) > MAX_QUERY_BODY_BYTES:
        raise ValueError(f"the answer is over {MAX_QUERY_BODY_BYTES} bytes")
    return _journal(group.name, operation, body, fetched_at, complete=True)


def _from_log(text: bytes) -> bytes:
    """The answer itself, when ``text`` is the bytes literal a CRITICAL log holds."""
    stripped = text.strip()
    if not stripped.startswith((b"b'", b'b"')):
        return text
    try:
        value = ast.literal_eval(stripped.decode("ascii"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        value = None
    if not isinstance(value, bytes):
        raise ValueError("the answer looks like a bytes literal from the log, but is not one")
    return value


def _journal_kept_answers(group: GatewayAccount, result: PollResult) -> None:
    """Journal the answers an earlier poll kept on disk, then delete their files. An
    answer already journaled (the process died between the two) is not journaled again:
    no two answers share account, operation and the microsecond they were fetched."""
    for answer in poll_spool.waiting(group.names):
        fetched_at = to_db_datetime(answer.fetched_at)
        try:
            already = PollJournalEntry.objects.filter(
                account=answer.account, operation=answer.operation, fetched_at=fetched_at
            ).exists()
            if not already:
                _journal(answer.account, answer.operation, answer.body, fetched_at, answer.complete)
        except (OperationalError, InterfaceError) as exc:
            # The database is down or unreachable: nothing new is fetched until it is back.
            raise AnswerKept(answer.path, exc, fetched=False) from exc
        except DatabaseError as exc:
            # The database is up but refuses this answer (its size, its values): set it
            # aside for staff rather than stop every later poll of every account.
            poll_spool.set_aside(answer, f"the database refused it: {type(exc).__name__}: {exc}")
            result.errors.append(
                f"an answer kept on disk was refused by the database and set aside: {exc}"
            )
            continue
        poll_spool.remove(answer)
        result.answers_from_disk += 1
        logger.warning(
            "journaled a %s answer of account %r fetched at %s, kept on disk since: %s",
            answer.operation,
            answer.account,
            answer.fetched_at.isoformat(),
            answer.path,
        )
