"""Polling: fetch delivery reports and replies, journal them, ingest them exactly once.

The gateway returns each record once only, so the raw body is committed to the journal
before anything parses it, even a body that broke off part-way (every byte that came).
Each journal entry is then ingested in one transaction that stores its records, matches
them, moves message statuses forward and marks the entry done; a failure anywhere rolls
all of that back and leaves the entry ``pending`` for the next poll. After
``JOURNAL_MAX_ATTEMPTS`` failures it is set aside for staff, so that one bad entry does
not fail every later poll. A body cut off part-way is read record by record: the
complete records before the cut are stored and the entry is ``salvaged``. Signals go out
after the transaction commits.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import bulk, outcomes, policy, poll_spool, recovery, rollup, stopping
from .backends import get_backend
from .backends.base import BaseSMSBackend
from .client.parsing import MAX_QUERY_BODY_BYTES, RecordScan
from .client.types import DeliveryReport, InboundSMS, RawResponse
from .conf import UnknownAccount, account_names, xunchen_settings
from .db import one_of, to_db_datetime
from .exceptions import GatewayError, ResponseCutOffError, XunchenError
from .locks import DatabaseLock, LockLost
from .models import InboundMessage, Message, PollJournalEntry, PollState, Report
from .signals import (
    inbound_received,
    report_matched,
    report_received,
    reports_received,
    send_on_commit,
    send_robust_logged,
)

logger = logging.getLogger("django_xunchen.polling")
Status = Message.Status
Op = PollJournalEntry.Operation
R = TypeVar("R", Report, InboundMessage)
CHUNK = 1000
ORPHAN_LIMIT = 5000
LOCK_NAME = "django_xunchen.poll"


@dataclass
class PollResult:
    """What one :func:`poll` did, in total; ``accounts`` holds the result of each
    gateway account (by the name of its first settings account)."""

    reports: int = 0
    reports_matched: int = 0
    inbound: int = 0
    inbound_matched: int = 0
    rematched: int = 0
    recovered: int = 0
    #: Requests whose outcome was lost, that took the msgid of their reports.
    requests_recovered: int = 0
    #: Unmatched reports (of the last MATCH_WINDOW_DAYS, as the orphan pass found them)
    #: that more than one lost request could be theirs: nothing is guessed.
    reports_ambiguous: int = 0
    spooled: int = 0
    #: Answers an earlier poll kept on disk when the database refused them.
    answers_from_disk: int = 0
    set_aside: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    locked_by: str | None = None
    #: The settings accounts this result covers (several when they share one login).
    names: list[str] = field(default_factory=list)
    accounts: dict[str, PollResult] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if len(self.accounts) > 1:
            lines = [f"{name}: {part.summary()}" for name, part in self.accounts.items()]
            if self.spooled:
                lines.append(f"applied {self.spooled} spooled send outcomes")
            return "\n".join(lines)
        if self.locked_by:
            return f"poll skipped: another poll is running ({self.locked_by})"
        parts = [
            f"reports {self.reports} ({self.reports_matched} matched)",
            f"replies {self.inbound} ({self.inbound_matched} matched)",
        ]
        if self.rematched:
            parts.append(f"orphans matched {self.rematched}")
        if self.recovered:
            parts.append(f"recovered {self.recovered} journal entries")
        if self.requests_recovered:
            parts.append(
                f"msgid recovered from reports for {self.requests_recovered} lost requests"
            )
        if self.reports_ambiguous:
            parts.append(
                f"{self.reports_ambiguous} reports left unmatched: more than one lost "
                "request could be theirs"
            )
        if self.spooled:
            parts.append(f"applied {self.spooled} spooled send outcomes")
        if self.answers_from_disk:
            parts.append(f"journaled {self.answers_from_disk} answers kept on disk")
        if self.set_aside:
            parts.append(f"set aside {self.set_aside} journal entries for staff")
        if self.skipped:
            parts.append("too soon for " + ", ".join(self.skipped))
        if self.errors:
            parts.append(f"{len(self.errors)} errors: " + "; ".join(self.errors))
        return "; ".join(parts)

    def add(self, name: str, part: PollResult, several: bool) -> None:
        self.accounts[name] = part
        for counter in (
            "reports",
            "reports_matched",
            "inbound",
            "inbound_matched",
            "rematched",
            "recovered",
            "requests_recovered",
            "reports_ambiguous",
            "answers_from_disk",
            "set_aside",
        ):
            setattr(self, counter, getattr(self, counter) + getattr(part, counter))
        prefix = f"{name}: " if several else ""
        self.skipped += [prefix + s for s in part.skipped]
        self.errors += [prefix + e for e in part.errors]
        if not several:
            self.locked_by = part.locked_by


@dataclass
class GatewayAccount:
    """One report and reply queue at the provider, and the settings accounts that use it.

    ``name`` (the first of ``names``) is what its journal entries, reports, replies and
    poll state record."""

    backend: BaseSMSBackend
    names: list[str]

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def lock_name(self) -> str:
        digest = hashlib.sha256(self.backend.queue_id.encode()).hexdigest()[:24]
        return f"{LOCK_NAME}:{digest}"


def gateway_accounts(
    backend: str | None = None, broken: dict[str, str] | None = None
) -> list[GatewayAccount]:
    """The configured accounts grouped by the provider queue they read (base URL plus
    username for the real gateway): two settings names sharing one login are polled
    once, under one lock. An account whose backend cannot be built is left out and,
    given ``broken``, named there with the reason; without it, the error is raised."""
    groups: dict[str, GatewayAccount] = {}
    for name in account_names():
        try:
            sms_backend = get_backend(backend, account=name)
        except ImproperlyConfigured as exc:
            if broken is None:
                raise
            broken[name] = str(exc)
            continue
        group = groups.get(sms_backend.queue_id)
        if group is None:
            groups[sms_backend.queue_id] = GatewayAccount(sms_backend, [name])
        else:
            group.names.append(name)
    return list(groups.values())


def lock_name_for(account: str = "default") -> str:
    """The name of the poll lock of ``account``'s gateway login."""
    return next(g.lock_name for g in gateway_accounts() if account in g.names)


def poll(
    reports: bool = True,
    inbound: bool = True,
    *,
    force: bool = False,
    backend: str | None = None,
    account: str | None = None,
) -> PollResult:
    """Fetch and ingest delivery reports and replies of every gateway account (or of
    ``account`` only); see the module docstring.

    Returns a :class:`PollResult`. Each gateway account has its own lock: if another
    poll holds it, that account is not fetched and its ``locked_by`` names the holder.
    Unless ``force``, an operation fetched less than ``POLL_INTERVAL`` seconds ago is
    skipped. One account's failure does not stop the others.
    """
    conf = xunchen_settings()
    broken: dict[str, str] = {}
    groups = gateway_accounts(backend, broken)
    if account is not None:
        if account not in account_names():
            raise UnknownAccount(f"no SMS account {account!r}")
        groups = [g for g in groups if account in g.names]
        broken = {n: e for n, e in broken.items() if n == account}
    if any(g.backend.sends_externally for g in groups) and connection.in_atomic_block:
        raise RuntimeError(
            "poll() must not run inside a transaction: each raw response has to be "
            "committed before it is parsed"
        )
    total = PollResult(names=[n for g in groups for n in g.names])
    total.spooled = outcomes.apply_spool()
    for group in groups:
        if stopping.requested():
            break
        part = PollResult(names=group.names)
        try:
            _poll_account(group, part, reports, inbound, force, conf)
        except AnswerKept as exc:
            part.errors.append(str(exc))
            total.add(group.name, part, several=len(groups) + len(broken) > 1)
            return total
        except DatabaseError:
            raise
        except Exception as exc:
            logger.exception("polling account %r failed", group.name)
            part.errors.append(f"{type(exc).__name__}: {exc}")
        total.add(group.name, part, several=len(groups) + len(broken) > 1)
    for name, error in broken.items():
        logger.error("account %r cannot be polled: %s", name, error)
        total.add(name, PollResult(names=[name], errors=[error]), len(groups) + len(broken) > 1)
    _prune(conf["JOURNAL_RETENTION_DAYS"])
    rollup.maintain()
    rollup.settle()
    return total


def _poll_account(
    group: GatewayAccount,
    result: PollResult,
    reports: bool,
    inbound: bool,
    force: bool,
    conf: dict[str, Any],
) -> None:
    sms_backend = group.backend
    lock = DatabaseLock(group.lock_name, timeout=conf["LOCK_TIMEOUT"])
    if not lock.acquire():
        holder = lock.holder()
        result.locked_by = holder.owner if holder else "another process"
        return
    interval = sms_backend.settings["POLL_INTERVAL"]
    try:
        with sms_backend:
            _journal_kept_answers(group, result)
            pending = PollJournalEntry.objects.filter(
                state=PollJournalEntry.State.PENDING, account__in=group.names
            )
            for entry in pending.order_by("pk"):
                if _ingest(entry, group, result, conf["JOURNAL_MAX_ATTEMPTS"]):
                    result.recovered += 1
                lock.refresh()
            wanted = [(Op.REPORTS, reports), (Op.INBOUND, inbound)]
            for operation, enabled in wanted:
                if not enabled or stopping.requested():
                    continue
                if not force and _too_soon(group.names, operation, interval):
                    result.skipped.append(str(Op(operation).label))
                    continue
                lock.refresh()
                fetched = _fetch_and_journal(operation, group, result)
                if fetched is not None:
                    _ingest(fetched, group, result, conf["JOURNAL_MAX_ATTEMPTS"])
            if reports and not stopping.requested():
                lock.refresh()
                _rematch_orphans(group.names, conf["MATCH_WINDOW_DAYS"], result)
    except LockLost as exc:
        logger.error("poll of account %r stopped: %s", group.name, exc)
        result.errors.append(f"stopped: {exc}")
    finally:
        try:
            lock.release()
        except DatabaseError as exc:
            logger.error(
                "the poll lock of account %r could not be released (%s); the next poll on "
                "this host takes it over, as this process will be gone",
                group.name,
                exc,
            )


def _too_soon(names: list[str], operation: str, interval: float) -> bool:
    last = (
        PollJournalEntry.objects.filter(account__in=names, operation=operation)
        .order_by("-fetched_at")
        .values_list("fetched_at", flat=True)
        .first()
    )
    return last is not None and timezone.now() - last < dt.timedelta(seconds=interval)


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
    """The database refused a fetched answer, which is now on disk (:mod:`.poll_spool`)
    for the next ``poll_sms`` to journal. The poll stops: the database is refusing."""

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
        raise ValueError(f"operation must be {Op.REPORTS!r} or {Op.INBOUND!r}, not {operation!r}")
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


def _journal(
    account: str, operation: str, body: bytes, fetched_at: dt.datetime, complete: bool
) -> PollJournalEntry:
    """Store a raw answer."""
    entry = PollJournalEntry(
        account=account, operation=operation, body=body, fetched_at=fetched_at, complete=complete
    )
    if connection.vendor != "postgresql" or len(body) < BINARY_JOURNAL_FROM:
        entry.save()
    else:
        _insert_binary(entry, body)
    return entry


def _insert_binary(entry: PollJournalEntry, body: bytes) -> None:
    """Insert ``entry`` on PostgreSQL with its body as a binary parameter: Django's
    client-side binding would write a 37 MB answer into the statement as 74 MB of hex."""
    import psycopg

    table = connection.ops.quote_name(PollJournalEntry._meta.db_table)
    fields = [f for f in PollJournalEntry._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join("%b" if f.attname == "body" else "%s" for f in fields)
    values = [
        body if f.attname == "body" else f.get_db_prep_save(getattr(entry, f.attname), connection)
        for f in fields
    ]
    connection.ensure_connection()
    # Django's own error classes, as for any other query: a refused insert must reach the
    # DatabaseError handler that keeps the answer on disk.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",  # noqa: S608
            values,
        )
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False
    entry._state.db = connection.alias


#: From this many bytes a raw answer goes to PostgreSQL as a binary parameter.
BINARY_JOURNAL_FROM = 1 << 20


def _note_attempt(
    account: str, operation: str, at: dt.datetime, error: str = "", success: bool = False
) -> None:
    """Record a fetch in the health state; times only move forward, so that ingesting an
    old journal entry never makes polling look older than it is."""
    state, _ = PollState.objects.get_or_create(account=account, operation=operation)
    if state.last_attempt_at is None or at >= state.last_attempt_at:
        state.last_attempt_at = at
        state.last_error = error[:2000]
    if success and (state.last_success_at is None or at > state.last_success_at):
        state.last_success_at = at
    state.save()


def _ingest(
    entry: PollJournalEntry, group: GatewayAccount, result: PollResult, max_attempts: int
) -> bool:
    """Ingest one journal entry; True when it is done (or salvaged)."""
    sms_backend = group.backend
    now = timezone.now()
    PollJournalEntry.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1)
    entry.attempts += 1
    body = entry.body if isinstance(entry.body, bytes) else bytes(entry.body)
    raw = RawResponse(entry.operation, body)
    entry.body = b""  # the journal keeps it; here only the records are needed from now on
    is_reports = entry.operation == Op.REPORTS
    try:
        scan: RecordScan[Any] = (
            sms_backend.scan_reports(raw) if is_reports else sms_backend.scan_inbound(raw)
        )
        del raw, body
    except GatewayError as exc:
        # The gateway refused the query: there are no records to keep.
        PollJournalEntry.objects.filter(pk=entry.pk).update(
            state=PollJournalEntry.State.DONE, records=0, ingested_at=now, error=str(exc)
        )
        logger.error("%s", exc)
        result.errors.append(str(exc))
        _note_attempt(entry.account, entry.operation, entry.fetched_at, str(exc))
        return True
    except Exception as exc:
        _failed(entry, exc, result, "cannot be parsed", max_attempts)
        return False
    records = scan.records
    salvaged = not (scan.complete and entry.complete)
    if salvaged:
        state = PollJournalEntry.State.SALVAGED
        note = scan.error or "the answer broke off"
        error = (
            f"{note}. {len(records)} complete records were recovered; any after the break "
            "are lost (the gateway returns each record once only)."
        )
    else:
        state, error = PollJournalEntry.State.DONE, ""
    try:
        with transaction.atomic():
            if is_reports:
                recovered = recovery.Recovered()
                stored, matched = _store_reports(
                    entry, cast(list[DeliveryReport], records), group.names, recovered
                )
                result.reports += stored
                result.reports_matched += matched
                # Reports left ambiguous are counted by the orphan pass (_rematch_orphans).
                result.requests_recovered += recovered.requests
            else:
                stored, matched = _store_inbound(
                    entry,
                    cast(list[InboundSMS], records),
                    group.names,
                    sms_backend.settings["SENDER_NUMBER"],
                )
                result.inbound += stored
                result.inbound_matched += matched
            PollJournalEntry.objects.filter(pk=entry.pk).update(
                state=state, records=len(records), ingested_at=timezone.now(), error=error
            )
            if entry.complete:
                _note_attempt(entry.account, entry.operation, entry.fetched_at, success=True)
    except Exception as exc:
        _failed(entry, exc, result, "could not be stored", max_attempts)
        return False
    if salvaged and entry.complete:
        message = f"journal entry {entry.pk} ({entry.operation}) is not well-formed: {error}"
        logger.error(message)
        result.errors.append(message)
    return True


def _failed(
    entry: PollJournalEntry, exc: Exception, result: PollResult, what: str, max_attempts: int
) -> None:
    message = f"journal entry {entry.pk} ({entry.operation}) {what}: {type(exc).__name__}: {exc}"
    logger.exception(message)
    values: dict[str, Any] = {"error": message[:2000]}
    if entry.attempts >= max_attempts:
        values["state"] = PollJournalEntry.State.SET_ASIDE
        message += f"; set aside after {entry.attempts} attempts: see the poll journal in the admin"
        result.set_aside += 1
    PollJournalEntry.objects.filter(pk=entry.pk).update(**values)
    result.errors.append(message)


def _chunks(items: Sequence[Any], size: int | None = None) -> Iterable[tuple[int, Sequence[Any]]]:
    size = size or CHUNK
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def apply_report(message: Message, status: str, delivered: bool, at: dt.datetime | None) -> bool:
    """Move ``message`` forward for a report, never backwards; True if it changed.

    A delivered message stays delivered; an undelivered one may still turn delivered
    (a later report for the same handset wins over an earlier failure).
    """
    if message.status not in Message.REPORTABLE:
        return False
    if not delivered and message.status == Status.UNDELIVERED:
        return False
    message.status = Status.DELIVERED if delivered else Status.UNDELIVERED
    message.report_status = status
    message.reported_at = at or timezone.now()
    message.updated_at = timezone.now()
    return True


def _write_statuses(changed: dict[int, Message]) -> None:
    """Store the statuses :func:`apply_report` set on ``changed``: one UPDATE per outcome,
    whatever the number of messages (``bulk_update`` builds a CASE per row and grows
    quadratically). The report code and time come from each message's first report of
    that outcome, the one :func:`apply_report` took: a message moved to an outcome has no
    earlier report of it, or it would have been in that state already."""
    now = timezone.now()
    rollup.touched(changed.values())
    for status, delivered in ((Status.DELIVERED, True), (Status.UNDELIVERED, False)):
        ids = [pk for pk, message in changed.items() if message.status == status]
        if not ids:
            continue
        first = Report.objects.filter(message=OuterRef("pk"), delivered=delivered).order_by("pk")
        Message.objects.filter(pk__in=ids).update(
            status=status,
            report_status=Subquery(first.values("status")[:1]),
            reported_at=Coalesce(Subquery(first.values("reported_at")[:1]), Value(now)),
            updated_at=now,
        )


@functools.cache
def _limits(model: type[Report] | type[InboundMessage]) -> list[tuple[str, int]]:
    """The text columns of ``model`` with their lengths."""
    return [
        (f.attname, f.max_length)
        for f in model._meta.concrete_fields
        if f.get_internal_type() == "CharField" and f.max_length
    ]


def _fit(row: R) -> R:
    """Cut any text longer than its column and flag the row, so that one odd record
    (PostgreSQL refuses an over-long value) never rolls back the whole response. The
    journal entry keeps the record as it came."""
    for name, limit in _limits(type(row)):
        value = getattr(row, name)
        if isinstance(value, str) and len(value) > limit:
            setattr(row, name, value[:limit])
            row.truncated = True
    if row.truncated:
        logger.warning(
            "a %s from journal entry %s had a field longer than its column; stored cut and flagged",
            type(row)._meta.verbose_name,
            row.source_id,
        )
    return row


def _messages_by_key(msgids: set[str], names: list[str]) -> dict[tuple[str, str], Message]:
    """The messages of one gateway account (``names``) with these msgids: a msgid is
    unique only within the account that gave it."""
    if not msgids:
        return {}
    found = Message.objects.filter(msgid__in=msgids, account__in=names)
    return {(m.msgid, m.mobile): m for m in found}


#: Reports stored and matched per statement.
INGEST_CHUNK = 5000
#: Reports per batch signal, and per query when the signals load them back.
SIGNAL_CHUNK = 1000
_REPORT_COLUMNS = (
    "account",
    "source_id",
    "position",
    "mobile",
    "msgid",
    "status",
    "delivered",
    "reported_at",
    "extno",
    "truncated",
    "received_at",
    "message_id",
    "matched_at",
)


def _store_reports(
    entry: PollJournalEntry,
    records: Sequence[DeliveryReport],
    names: list[str],
    recovered: recovery.Recovered | None = None,
) -> tuple[int, int]:
    """Store, match and apply ``records`` in set-based statements, a few per
    :data:`INGEST_CHUNK` reports, whatever their number: no Report or Message objects
    are built. The signals load the reports back after the commit, a chunk at a time.
    Reports whose msgid matches no message go through :mod:`.recovery` first
    (``recovered`` gets its counts)."""
    now = timezone.now()
    matched = 0
    undelivered: set[str] = set()
    limits = dict(_limits(Report))
    for start, chunk in _chunks(records, INGEST_CHUNK):
        ids = _message_ids({r.msgid for r in chunk if r.msgid}, names)
        ids.update(_recover(chunk, ids, names, now, recovered, _message_ids))
        rows = []
        for offset, record in enumerate(chunk):
            message_id = ids.get((record.msgid, record.mobile))
            rows.append(_report_row(entry, start + offset, record, now, limits, message_id))
            if message_id is not None:
                matched += 1
            if not record.delivered:
                undelivered.add(record.mobile)
        bulk.insert_values(Report, _REPORT_COLUMNS, rows)
        _apply_reports(
            Report.objects.filter(
                source=entry,
                position__gte=start,
                position__lt=start + len(chunk),
                message__isnull=False,
            ),
            rows,
            now,
        )
    policy.apply_bounces(undelivered)
    if records:
        transaction.on_commit(functools.partial(_send_report_signals, entry.pk))
    return len(records), matched


def _recover(
    reports: Sequence[DeliveryReport] | Sequence[Report],
    known: dict[tuple[str, str], Any],
    names: list[str],
    now: dt.datetime,
    recovered: recovery.Recovered | None,
    look_up: Any,
) -> dict[tuple[str, str], Any]:
    """The keys of the messages whose lost request :func:`.recovery.recover` gave the
    msgid of some of ``reports``: only those whose msgid is on no message (``known``)
    go there. ``look_up`` finds the messages, as ``known`` was built."""
    on_messages = {msgid for msgid, _ in known}
    lost = [(r.msgid, r.mobile, r.reported_at) for r in reports if r.msgid not in on_messages]
    if not lost:
        return {}
    done = recovery.recover(lost, names, now)
    if recovered is not None:
        recovered.add(done)
    return look_up(done.msgids, names) if done.msgids else {}


def _message_ids(msgids: set[str], names: list[str]) -> dict[tuple[str, str], int]:
    """``(msgid, mobile) -> id`` of the messages of one gateway account with these
    msgids (the first, should two share both)."""
    if not msgids:
        return {}
    found = (
        Message.objects.filter(one_of(Message, "msgid", msgids), account__in=names)
        .order_by("-pk")
        .values_list("msgid", "mobile", "pk")
    )
    return {(msgid, mobile): pk for msgid, mobile, pk in found}


def _report_row(
    entry: PollJournalEntry,
    position: int,
    record: DeliveryReport,
    now: Any,
    limits: dict,
    message_id: int | None,
) -> tuple[Any, ...]:
    """The row of one report; a text longer than its column is cut and the row flagged
    (the journal entry keeps it whole), so that one odd record never fails the entry."""
    values = {
        "mobile": record.mobile,
        "msgid": record.msgid,
        "status": record.status,
        "extno": record.extno,
        "account": entry.account,
    }
    truncated = False
    for name, value in values.items():
        if len(value) > limits[name]:
            values[name], truncated = value[: limits[name]], True
    if truncated:
        logger.warning(
            "a delivery report from journal entry %s had a field longer than its column; "
            "stored cut and flagged",
            entry.pk,
        )
    return (
        values["account"],
        entry.pk,
        position,
        values["mobile"],
        values["msgid"],
        values["status"],
        record.delivered,
        to_db_datetime(record.reported_at),
        values["extno"],
        truncated,
        now,
        message_id,
        now if message_id is not None else None,
    )


def _apply_reports(matched: Any, rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """Move the messages of the ``matched`` reports (``rows``, as inserted) forward, as
    :func:`apply_report` does one by one: a delivered report wins; an undelivered one
    moves only a message that has no outcome yet. Each takes the code and time of its
    first report of the outcome it reaches (an earlier one of the same outcome would
    have moved it there already)."""
    reportable = Message.objects.filter(status__in=Message.REPORTABLE)
    rollup.touched_where(reportable.filter(pk__in=matched.values("message_id")))
    for status, delivered in ((Status.DELIVERED, True), (Status.UNDELIVERED, False)):
        targets = reportable.filter(pk__in=matched.filter(delivered=delivered).values("message_id"))
        if not delivered:
            targets = targets.exclude(status=Status.UNDELIVERED)
        if connection.vendor != "postgresql":
            first = Report.objects.filter(message=OuterRef("pk"), delivered=delivered)
            first = first.order_by("pk")
            targets.update(
                status=status,
                report_status=Subquery(first.values("status")[:1]),
                reported_at=Coalesce(Subquery(first.values("reported_at")[:1]), Value(now)),
                updated_at=now,
            )
            continue
        _update_from_firsts(status, delivered, rows, now)


def _update_from_firsts(
    status: str, delivered: bool, rows: list[tuple[Any, ...]], now: dt.datetime
) -> None:
    """PostgreSQL: one UPDATE joined to each message's first report of the outcome among
    ``rows``, passed as three arrays."""
    status_at, delivered_at, reported_at_at, message_at = (
        _REPORT_COLUMNS.index(c) for c in ("status", "delivered", "reported_at", "message_id")
    )
    firsts: dict[int, tuple[str, Any]] = {}
    for row in rows:
        if row[message_at] is not None and row[delivered_at] is delivered:
            firsts.setdefault(row[message_at], (row[status_at], row[reported_at_at] or now))
    if not firsts:
        return
    reportable = [s for s in Message.REPORTABLE if delivered or s != Status.UNDELIVERED]
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = %s, "  # noqa: S608 - a quoted table name
            "report_status = f.status, reported_at = f.at, updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS f(id, status, at) "
            "WHERE m.id = f.id AND m.status = ANY(%s)",
            [
                status,
                now,
                list(firsts),
                [code for code, _ in firsts.values()],
                [at for _, at in firsts.values()],
                reportable,
            ],
        )


def _send_report_signals(entry_id: int) -> None:
    """After the commit: the stored reports of one journal entry, loaded a chunk at a
    time (only if anyone listens), as batches and one by one."""
    if not (reports_received.has_listeners(Report) or report_received.has_listeners(Report)):
        return
    after = -1
    while True:
        chunk = list(
            Report.objects.filter(source_id=entry_id, position__gt=after)
            .select_related("message")
            .order_by("position")[:SIGNAL_CHUNK]
        )
        if not chunk:
            return
        after = chunk[-1].position
        send_robust_logged(reports_received, Report, reports=chunk)
        for report in chunk:
            send_robust_logged(
                report_received,
                Report,
                report=report,
                message=report.message,
                delivered=report.delivered,
            )


def extcode_of(recvcode: str, sender: str) -> str | None:
    """The extcode in a reply's recvcode, when the account's sender number is known."""
    if sender and recvcode.startswith(sender):
        return recvcode[len(sender) :]
    return None


def _match_reply(record: InboundSMS, candidates: list[Message], sender: str) -> Message | None:
    """The most recent message to the same number whose extcode the recvcode carries."""
    ext = extcode_of(record.recvcode, sender)
    if ext is not None:
        return next((m for m in candidates if m.extcode == ext), None)
    with_ext = [m for m in candidates if m.extcode and record.recvcode.endswith(m.extcode)]
    if with_ext:
        return max(with_ext, key=lambda m: (len(m.extcode), m.submitted_at or m.created_at))
    return next((m for m in candidates if not m.extcode), None)


def _store_inbound(
    entry: PollJournalEntry, records: Sequence[InboundSMS], names: list[str], sender: str
) -> tuple[int, int]:
    conf = xunchen_settings()
    since = timezone.now() - dt.timedelta(days=conf["MATCH_WINDOW_DAYS"])
    stored = matched = 0
    for start, chunk in _chunks(records):
        candidates: dict[str, list[Message]] = {}
        for candidate in Message.objects.filter(
            account__in=names,
            mobile__in={r.mobile for r in chunk},
            submitted_at__gte=since,
            status__in=[Status.SENT, Status.DELIVERED, Status.UNDELIVERED],
        ).order_by("-submitted_at", "-pk"):
            candidates.setdefault(candidate.mobile, []).append(candidate)
        rows = []
        for offset, record in enumerate(chunk):
            message = _match_reply(record, candidates.get(record.mobile, []), sender)
            ext = extcode_of(record.recvcode, sender)
            rows.append(
                InboundMessage(
                    account=entry.account,
                    source=entry,
                    position=start + offset,
                    mobile=record.mobile,
                    recvcode=record.recvcode,
                    content=record.content,
                    received_at=to_db_datetime(record.received_at),
                    message=message,
                    extcode=ext if ext is not None else (message.extcode if message else ""),
                )
            )
        InboundMessage.objects.bulk_create([_fit(row) for row in rows])
        policy.apply_reply_keywords(rows)
        stored += len(rows)
        matched += sum(1 for r in rows if r.message is not None)
        send_on_commit(
            (inbound_received, InboundMessage, {"inbound": r, "message": r.message}) for r in rows
        )
    return stored, matched


def _rematch_orphans(names: list[str], window_days: int, result: PollResult) -> None:
    """Match reports that arrived before their message had its msgid (the send's
    transaction had not committed yet), or for messages stored since."""
    since = timezone.now() - dt.timedelta(days=window_days)
    orphans = list(
        Report.objects.filter(message__isnull=True, received_at__gte=since, account__in=names)
        .exclude(msgid="")
        .order_by("pk")[:ORPHAN_LIMIT]
    )
    if not orphans:
        return
    now = timezone.now()
    recovered = recovery.Recovered()
    for _, chunk in _chunks(orphans):
        by_key = _messages_by_key({r.msgid for r in chunk}, names)
        by_key.update(_recover(chunk, by_key, names, now, recovered, _messages_by_key))
        found, changed = [], {}
        for report in chunk:
            message = by_key.get((report.msgid, report.mobile))
            if message is None:
                continue
            report.message, report.matched_at = message, now
            found.append(report)
            if apply_report(message, report.status, report.delivered, report.reported_at):
                changed[message.pk] = message
        if not found:
            continue
        with transaction.atomic():
            match = Message.objects.filter(
                msgid=OuterRef("msgid"), mobile=OuterRef("mobile"), account__in=names
            )
            Report.objects.filter(pk__in=[r.pk for r in found]).update(
                message=Subquery(match.order_by("pk").values("pk")[:1]), matched_at=now
            )
            _write_statuses(changed)
            send_on_commit(
                (
                    report_matched,
                    Report,
                    {"report": r, "message": r.message, "delivered": r.delivered},
                )
                for r in found
            )
        result.rematched += len(found)
    result.requests_recovered += recovered.requests
    result.reports_ambiguous += recovered.ambiguous


def _prune(retention_days: int) -> None:
    cutoff = timezone.now() - dt.timedelta(days=retention_days)
    PollJournalEntry.objects.filter(
        state=PollJournalEntry.State.DONE, ingested_at__lt=cutoff
    ).delete()
