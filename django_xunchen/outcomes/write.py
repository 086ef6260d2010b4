"""Recording what the gateway answered to a send, so that an accepted SMS always ends
with its msgid.

The write is keyed by the message ids, not by the claim: an outcome that comes late
still lands on rows the stale sweep has since marked ``unknown`` (the outcome is now
known). It is retried with backoff for ``OUTCOME_RETRY_SECONDS`` while the database is
down, restarting or locked; after that it goes to the local spool (:mod:`.spool`) and an
ERROR log record names the msgid and the message ids.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..conf import xunchen_settings
from ..db import one_of, status_is
from ..exceptions import XunchenError
from ..models import Message
from ..operations import rollup
from ..signals import message_failed, message_sent, send_on_commit
from ..webhooks import events as webhook_events
from . import spool

logger = logging.getLogger("django_xunchen.sending")
Status = Message.Status
T = TypeVar("T")

#: The statuses an outcome may move a row out of. A late ``sent`` or ``failed`` also
#: lands on a row the sweep marked ``unknown``; ``queued`` and ``unknown`` only on a row
#: still ``sending``.
FROM_STATUSES = {
    Status.SENT: (Status.SENDING, Status.UNKNOWN),
    Status.FAILED: (Status.SENDING, Status.UNKNOWN),
    Status.QUEUED: (Status.SENDING,),
    Status.UNKNOWN: (Status.SENDING,),
    Status.SUPPRESSED: (Status.SENDING,),
}
_ERROR_CODE_LENGTH = Message._meta.get_field("error_code").max_length or 16
_BACKOFF_START, _BACKOFF_MAX = 0.05, 2.0


@dataclass
class Outcome:
    """What became of one request's rows."""

    ids: list[int]
    status: str
    msgid: str = ""
    error_code: str = ""
    error_message: str = ""
    blocked_words: list[str] = field(default_factory=list)
    submitted_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.error_code = self.error_code[:_ERROR_CODE_LENGTH]

    def fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "status": self.status,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "claim": None,
        }
        if self.status == Status.SENT:
            values.update(msgid=self.msgid, blocked_words=[], submitted_at=self.submitted_at)
        elif self.status == Status.FAILED:
            values["blocked_words"] = list(self.blocked_words)
        return values

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["submitted_at"] = self.submitted_at.isoformat() if self.submitted_at else None
        return data


_MSGID_LENGTH = Message._meta.get_field("msgid").max_length or 64
_MAX_ID = 2**63 - 1


def _text(name: str, value: Any, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string but {type(value).__name__}")
    if "\x00" in value:
        raise ValueError(f"{name} holds a NUL character")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{name} is longer than {max_length} characters")
    return value


def _id(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise ValueError(f"{name} holds {value!r}, not a positive integer below 2**63")
    return value


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"ids is not a list of message ids: {value!r}")
    return [_id("ids", v) for v in value]


def _status(value: Any) -> str:
    if not isinstance(value, str) or value not in FROM_STATUSES:
        raise ValueError(f"unknown status {value!r}")
    return value


def _words(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"blocked_words is not a list: {value!r}")
    return [_text("blocked_words", v) for v in value]


def _when(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(_text("submitted_at", value))  # raises ValueError: 02-30
    if parsed is None:
        raise ValueError(f"submitted_at is not a date and time: {value!r}")
    if timezone.is_aware(parsed) != settings.USE_TZ:
        raise ValueError(f"submitted_at has {'no' if settings.USE_TZ else 'a'} UTC offset")
    return parsed


#: The fields of a spooled outcome, each with its check (:func:`parse_spooled`). A field
#: added to :class:`Outcome` needs one here, or its spooled outcomes are set aside.
SPOOLED_FIELDS: dict[str, Callable[[Any], Any]] = {
    "ids": _ids,
    "status": _status,
    "msgid": lambda v: _text("msgid", v, _MSGID_LENGTH),
    "error_code": lambda v: _text("error_code", v, _ERROR_CODE_LENGTH),
    "error_message": lambda v: _text("error_message", v),
    "blocked_words": _words,
    "submitted_at": _when,
    # Who wrote it (:func:`.spool.write`); not part of the outcome.
    "host": lambda v: _text("host", v),
    "pid": lambda v: _id("pid", v),
}


def parse_spooled(record: Any) -> Outcome:
    """The outcome in a spool file's JSON, whose whole shape is checked first: every
    field present, none unknown, each of its type. Raises :class:`ValueError` naming
    what is wrong; the file is then set aside (:func:`.spool.load`)."""
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    problems = []
    missing = sorted(set(SPOOLED_FIELDS) - set(record))
    if missing:
        problems.append("missing " + ", ".join(missing))
    unknown = sorted(set(record) - set(SPOOLED_FIELDS))
    if unknown:
        problems.append("unknown " + ", ".join(map(repr, unknown)))
    if problems:
        raise ValueError("; ".join(problems))
    values = {name: check(record[name]) for name, check in SPOOLED_FIELDS.items()}
    del values["host"], values["pid"]
    return Outcome(**values)


def retry_window() -> float:
    return float(xunchen_settings()["OUTCOME_RETRY_SECONDS"])


def with_retries(write: Callable[[], T], window: float, what: str) -> T:
    """Run ``write`` until it succeeds or ``window`` seconds have passed.

    Only errors that may pass (OperationalError, InterfaceError: the connection dropped,
    the server restarts, SQLite is locked) are retried. Inside ``atomic`` each attempt
    runs in its own savepoint, since PostgreSQL refuses every statement after an error
    until a rollback; outside it the connection is closed after a failure, so that the
    next attempt opens a new one. A broken connection cannot be replaced inside
    ``atomic``: that attempt's error is raised as it is.
    """
    give_up = time.monotonic() + window
    delay = _BACKOFF_START
    attempt = 0
    while True:
        attempt += 1
        try:
            if connection.in_atomic_block:
                with transaction.atomic():
                    return write()
            return write()
        except IntegrityError:
            raise
        except DatabaseError as exc:
            if not _transient(exc) or time.monotonic() + delay > give_up:
                raise
            logger.warning(
                "%s failed (attempt %d, %s: %s); retrying in %.2f s",
                what,
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
            if not connection.in_atomic_block:
                connection.close()
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)


def _transient(exc: DatabaseError) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError))


def land(
    outcome: Outcome,
    rows: Sequence[Message] = (),
    error: XunchenError | None = None,
) -> list[int]:
    """Write ``outcome`` onto its rows in one UPDATE, with their webhook events, in one
    transaction; returns the ids it changed and queues the signals for them. ``rows``
    (in memory) get the same values."""
    event = webhook_events.MESSAGE_EVENTS.get(outcome.status)
    wanted = event is not None and webhook_events.subscribed(event)
    # A transaction only to record the events with the change (nobody wants them: the
    # one UPDATE); no savepoint of its own, with_retries gives each attempt one.
    with transaction.atomic(savepoint=False) if wanted else contextlib.nullcontext():
        now = timezone.now()
        values = {**outcome.fields(), "updated_at": now}
        changed = Message.objects.filter(
            one_of(Message, "id", outcome.ids),
            status_is(*FROM_STATUSES[outcome.status]),
        ).update(**values)
        if changed == len(outcome.ids):
            ids = list(outcome.ids)
        elif changed:
            ids = list(
                Message.objects.filter(
                    one_of(Message, "id", outcome.ids), status_is(outcome.status), updated_at=now
                ).values_list("pk", flat=True)
            )
        else:
            ids = []
        by_pk = {row.pk: row for row in rows}
        for row in rows:
            if row.pk in ids:
                for name, value in values.items():
                    setattr(row, name, value)
        missing = [pk for pk in ids if pk not in by_pk]
        if missing:
            by_pk.update({m.pk: m for m in Message.objects.filter(pk__in=missing)})
        rollup.touched(by_pk[pk] for pk in ids)
        _signal(outcome, [by_pk[pk] for pk in ids], error)
        if wanted:
            webhook_events.record(event, ids, now, wanted=True)
        return ids


def _signal(outcome: Outcome, rows: list[Message], error: XunchenError | None) -> None:
    if not rows:
        return
    if outcome.status == Status.SENT:
        send_on_commit((message_sent, Message, {"message": row}) for row in rows)
    elif outcome.status in (Status.FAILED, Status.UNKNOWN):
        failure = error or XunchenError(outcome.error_message)
        send_on_commit(
            (message_failed, Message, {"message": row, "error": failure}) for row in rows
        )


def record(
    outcome: Outcome, rows: Sequence[Message], error: XunchenError | None = None
) -> list[int]:
    """:func:`land` with retries, then the spool: the outcome is never lost.

    Returns the ids changed in the database (none when it went to the spool; the rows in
    memory still show the outcome).
    """
    try:
        return with_retries(
            lambda: land(outcome, rows, error), retry_window(), "recording a send's outcome"
        )
    except DatabaseError as exc:
        _to_spool(outcome, rows, exc)
        return []


def _to_spool(outcome: Outcome, rows: Sequence[Message], exc: DatabaseError) -> None:
    for row in rows:
        for name, value in outcome.fields().items():
            setattr(row, name, value)
    try:
        path = spool.write(outcome.to_json())
    except (OSError, ImproperlyConfigured) as spool_error:
        logger.critical(
            "the database refused a send's outcome (%s: %s) and so did the spool (%s): "
            "status %s, msgid %r, message ids %s. Record it by hand.",
            type(exc).__name__,
            exc,
            spool_error,
            outcome.status,
            outcome.msgid,
            outcome.ids,
        )
        return
    logger.error(
        "the database refused a send's outcome (%s: %s); spooled to %s: status %s, "
        "msgid %r, message ids %s. The next send_sms, send_queued or poll_sms on this "
        "host applies it.",
        type(exc).__name__,
        exc,
        path,
        outcome.status,
        outcome.msgid,
        outcome.ids,
    )


def apply_spool() -> int:
    """Apply this host's spooled outcomes; returns how many were applied.

    First removes the temporary files a crash mid-write left. A file that cannot be read
    or applied (:func:`parse_spooled`, or the database refuses its values) is set aside
    as ``*.bad`` and the next one is applied. Stops at the first other database error
    (the database is still refusing): the files stay.
    """
    spool.clean_temporary()
    applied = 0
    for path in spool.pending():
        outcome = spool.load(path, parse_spooled)
        if outcome is None:
            continue
        try:
            with_retries(lambda o=outcome: land(o), 0, "applying a spooled outcome")
        except (DataError, IntegrityError, ValueError, TypeError, OverflowError) as exc:
            spool.set_aside(path, f"the database refused it: {type(exc).__name__}: {exc}")
            continue
        except DatabaseError as exc:
            logger.warning("the spool stays for now (%s: %s)", type(exc).__name__, exc)
            break
        spool.remove(path)
        applied += 1
        logger.warning(
            "applied a spooled outcome: status %s, msgid %r, message ids %s",
            outcome.status,
            outcome.msgid,
            outcome.ids,
        )
    return applied


_applied_in_process = False


def apply_spool_once_per_process() -> None:
    """The first send of a process applies what earlier processes left in the spool."""
    global _applied_in_process
    if _applied_in_process:
        return
    _applied_in_process = True
    try:
        apply_spool()
    except Exception:
        logger.exception("applying the spool failed; send_queued or poll_sms will retry")
