"""Dispatch: claim rows, group them into requests, submit them (one by one or in threads)
and record each request's outcome."""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

from .. import policy, stopping
from ..backends import get_backend
from ..backends.base import BaseSMSBackend
from ..client.types import SendRequest
from ..client.validation import build_send_request
from ..conf import xunchen_settings
from ..db import from_db_datetime, one_of
from ..exceptions import (
    AccessMethodNotEnabledError,
    AccountDisabledError,
    BlockedWordsError,
    GatewayError,
    InsufficientBalanceError,
    InvalidAccountError,
    InvalidContentError,
    InvalidVeryCodeError,
    IPNotAllowedError,
    NotSentError,
    OutcomeUnknownError,
    XunchenError,
    XunchenValidationError,
)
from ..models import Message, Template
from ..outcomes import write as outcomes
from ..outcomes.write import Outcome
from ..sending import admission
from .claim import _claim, _move
from .fallback import fallbacks

logger = logging.getLogger("django_xunchen.dispatch")
Status = Message.Status


#: Errors about the account, not the message: the next request would fail the same way,
#: so the rest of the batch stays queued instead of being tried.
ACCOUNT_ERRORS = (
    InvalidAccountError,
    AccountDisabledError,
    InsufficientBalanceError,
    IPNotAllowedError,
    InvalidVeryCodeError,
    AccessMethodNotEnabledError,
)


@dataclass
class SendOutcome:
    """What :func:`dispatch` did: the errors it met, in order, the requests it made and
    the messages it got accepted (only its own, whatever other processes did)."""

    errors: list[XunchenError] = field(default_factory=list)
    requests: int = 0
    sent: int = 0


class Backends:
    """The backends one dispatch uses, one per account, opened on first use.

    ``path`` (a dotted path) replaces each account's configured class; ``first`` is a
    backend already built for its account.
    """

    def __init__(self, path: str | None = None, first: BaseSMSBackend | None = None) -> None:
        self.path = path
        self._built: dict[str, BaseSMSBackend] = {}
        self._opened: list[BaseSMSBackend] = []
        if first is not None:
            self._built[first.account] = first

    def sends_externally(self, accounts: Iterable[str]) -> bool:
        """Whether the backend of any of ``accounts`` reaches real handsets (then a send
        of their rows inside a transaction waits for the commit)."""
        return any(self.get_unopened(account).sends_externally for account in set(accounts))

    def get_unopened(self, account: str) -> BaseSMSBackend:
        if account not in self._built:
            self._built[account] = get_backend(self.path, account=account, fail_silently=True)
        return self._built[account]

    def __getitem__(self, account: str) -> BaseSMSBackend:
        backend = self.get_unopened(account)
        if backend not in self._opened:
            backend.open()
            self._opened.append(backend)
        return backend

    def close(self) -> None:
        while self._opened:
            self._opened.pop().close()


def _group_key(row: Message) -> tuple[Any, ...]:
    return (
        row.account,
        row.kind,
        row.content if not row.template_id else "",
        row.template_id,
        json.dumps(row.params, sort_keys=True) if row.params else repr(row.params),
        row.extcode,
        row.send_at,
    )


@dataclass(frozen=True)
class WireText:
    """The text (or template params) to put on the wire for one row in place of the stored
    ones, which have a secret masked out (a verification code). It is an argument of
    :func:`dispatch`, held in memory only: never on the row, in the database, a task or a
    log; its repr shows neither field."""

    content: str | None = field(default=None, repr=False)
    params: dict[str, Any] | None = field(default=None, repr=False)


#: Errors after which a request certainly did not go out on its account, so that it
#: may go to the account's fallback instead.
CERTAINLY_NOT_SENT = (NotSentError, *ACCOUNT_ERRORS)


def dispatch(
    rows: Sequence[Message],
    backends: Backends | BaseSMSBackend,
    *,
    wire_text: Mapping[int, WireText] | None = None,
) -> SendOutcome:
    """Submit saved ``queued`` rows, each on its own account: those that share account,
    kind, text and options go together, in requests of at most ``BATCH_SIZE`` numbers.
    Errors are recorded on the rows and returned, never raised; after an error about an
    account or the network, the rest of that account's rows stay ``queued`` (or go to
    its fallback, see :func:`fallbacks`).

    ``wire_text`` maps a row's pk to what goes on the wire instead of its stored, masked
    text (a verification code); each such row goes in a request of its own."""
    wire_text = wire_text or {}
    if isinstance(backends, BaseSMSBackend):
        backends = Backends(first=backends)
    batch_size = max(1, min(int(xunchen_settings()["BATCH_SIZE"]), 100))
    outcomes.apply_spool_once_per_process()
    groups: dict[tuple[Any, ...], list[Message]] = {}
    now = timezone.now()
    for row in rows:
        held = from_db_datetime(row.hold_until)
        if row.status == Status.SUPPRESSED or (held is not None and held > now):
            continue  # suppressed at creation, or held (quiet hours): send_queued sends it
        key = ("wire", row.pk) if row.pk in wire_text else _group_key(row)
        groups.setdefault(key, []).append(row)
    outcome = SendOutcome()
    chunks = [
        group[start : start + batch_size]
        for group in groups.values()
        for start in range(0, len(group), batch_size)
    ]
    workers = _concurrency(chunks)
    with admission.one_dispatch():
        if workers > 1:
            _submit_in_threads(chunks, backends, outcome, workers, wire_text)
            return outcome
        return _submit_one_by_one(chunks, backends, outcome, wire_text)


def _submit_one_by_one(
    chunks: Sequence[Sequence[Message]],
    backends: Backends,
    outcome: SendOutcome,
    wire_text: Mapping[int, WireText],
) -> SendOutcome:
    stopped: set[str] = set()
    down: set[str] = set()
    try:
        for chunk in chunks:
            if stopping.requested():
                break  # its rows and the rest stay queued, for the next run
            if chunk[0].account in stopped:
                continue
            error = _submit(chunk, backends, outcome, down, wire_text)
            if error is not None:
                outcome.errors.append(error)
                if isinstance(error, OutcomeUnknownError):
                    return outcome
                if isinstance(error, CERTAINLY_NOT_SENT):
                    stopped.add(chunk[0].account)
    finally:
        backends.close()
    return outcome


def _concurrency(chunks: Sequence[Sequence[Message]]) -> int:
    """Requests at once: the ``CONCURRENCY`` of the accounts involved (the smallest), and
    one on SQLite (a single writer) or inside a transaction (other connections would not
    see its rows)."""
    if len(chunks) < 2 or connection.vendor == "sqlite" or connection.in_atomic_block:
        return 1
    accounts = {c[0].account for c in chunks}
    limits = [int(xunchen_settings(a)["CONCURRENCY"] or 1) for a in accounts]
    return max(1, min(min(limits), len(chunks)))


def _submit_in_threads(
    chunks: Sequence[Sequence[Message]],
    backends: Backends,
    outcome: SendOutcome,
    workers: int,
    wire_text: Mapping[int, WireText],
) -> None:
    """Each thread has its own backends (connections) and database connection, and takes
    the next chunk until none is left, or an unknown outcome stops everything, or a
    certainly-not-sent error stops that account."""
    import queue
    import threading

    from django.db import connections

    todo: queue.SimpleQueue[Sequence[Message]] = queue.SimpleQueue()
    for chunk in chunks:
        todo.put(chunk)
    lock = threading.Lock()
    stopped: set[str] = set()
    down: set[str] = set()
    halt = threading.Event()
    crashed: list[BaseException] = []

    def work() -> None:
        mine = Backends(backends.path)
        try:
            while not halt.is_set() and not stopping.requested():
                try:
                    chunk = todo.get_nowait()
                except queue.Empty:
                    return
                if chunk[0].account in stopped:
                    continue
                part = SendOutcome()
                error = _submit(chunk, mine, part, down, wire_text)
                with lock:
                    outcome.requests += part.requests
                    outcome.sent += part.sent
                    if error is not None:
                        outcome.errors.append(error)
                        if isinstance(error, OutcomeUnknownError):
                            halt.set()
                        elif isinstance(error, CERTAINLY_NOT_SENT):
                            stopped.add(chunk[0].account)
        except BaseException as exc:
            with lock:
                crashed.append(exc)
            halt.set()
        finally:
            mine.close()
            connections.close_all()

    # Each thread runs in a copy of this context: the dispatch's cache of learned words
    # (admission.one_dispatch) is shared, not read again for every request.
    threads = [
        threading.Thread(
            target=contextvars.copy_context().run, args=(work,), name=f"xunchen-send-{i}"
        )
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backends.close()
    if crashed:
        raise crashed[0]


def _request_for(
    rows: Sequence[Message],
    mobiles: list[str],
    sms_backend: BaseSMSBackend,
    wire_text: Mapping[int, WireText],
) -> SendRequest:
    first = rows[0]
    send_at = from_db_datetime(first.send_at)
    if send_at is not None and send_at <= dt.datetime.now(dt.timezone.utc):
        send_at = None  # its time has come while it waited: send now
    template = first.template if first.template_id else None
    content, params = first.content, first.params
    wire = wire_text.get(first.pk)
    if wire is not None:
        content, params = wire.content, wire.params
    elif first.masked:
        raise InvalidContentError(
            "the stored text has a verification code masked out; it is never sent from the database"
        )
    # The numbers were validated when the rows were written: the request is checked with
    # the first of them, then carries them all (no second pass over every number).
    request = build_send_request(
        mobiles[:1],
        None if template else content,
        template_id=template.template_id if template else None,
        params=params if template else None,
        extcode=first.extcode or None,
        send_at=send_at,
        sign_index=sms_backend.settings["SIGN_INDEX"],
        encoding=sms_backend.encoding,
        sensitive=wire is not None,  # a wire text carries a code: masked in any repr
    )
    return dataclasses.replace(request, mobiles=tuple(mobiles))


def _submit(
    rows: Sequence[Message],
    backends: Backends,
    outcome: SendOutcome,
    down: set[str],
    wire_text: Mapping[int, WireText],
) -> XunchenError | None:
    now = timezone.now()
    token = uuid.uuid4()
    rows = admission.at_submit(rows, now)
    if not rows:
        return None
    ids = [r.pk for r in rows]
    kind, account = rows[0].kind, rows[0].account
    claimed_ids = _claim(
        admission.claimable(Message.objects.filter(one_of(Message, "id", ids)), kind, now, account),
        token,
        now,
    )
    if len(claimed_ids) < len(rows):
        unclaimed = [r for r in rows if r.pk not in claimed_ids]
        admission.suppress_unclaimed([r.pk for r in unclaimed], kind, now, account)
        _refresh(unclaimed)
    if not claimed_ids:
        return None
    claimed = [r for r in rows if r.pk in claimed_ids]
    ids = [r.pk for r in claimed]
    for row in claimed:
        row.request, row.requested_at = token, now

    def land(status: str, error: XunchenError | None = None, **fields: Any) -> None:
        outcomes.record(Outcome(ids, status, **fields), claimed, error)

    home = claimed[0].account
    home_template = claimed[0].template if claimed[0].template_id else None

    def restore() -> None:
        if claimed[0].account != home:
            _move(claimed, token, home, home_template)

    def allowed(later: list[tuple[str, Template | None]]) -> list[tuple[str, Template | None]]:
        # A fallback is a submit on another account: the rules once more, as of now.
        return [r for r in later if admission.may_route(claimed, r[0], timezone.now())]

    routes = [r for r in fallbacks(home, claimed[0].kind, home_template) if r[0] not in down]
    if home in down:
        routes = allowed(routes)
    else:
        routes.insert(0, (home, home_template))
    if not routes:
        routes = [(home, home_template)]
    (account, template), pending = routes[0], routes[1:]
    while True:
        if claimed[0].account != account:
            _move(claimed, token, account, template)
        error = _attempt(claimed, backends[account], outcome, land, not pending, restore, wire_text)
        if not isinstance(error, CERTAINLY_NOT_SENT):
            return error
        down.add(account)
        if not pending:
            return error  # _attempt recorded it: no other account was left
        pending = [r for r in pending if r[0] not in down]
        later = allowed(pending)
        if not later:
            # Not sent, and the fallbacks that are up may not take it now (their quiet
            # hours, words or cap): it waits in the queue for the next submit.
            _not_sent(claimed, error, land, restore, held=bool(pending))
            return error
        logger.warning(
            "SMS request certainly not sent on account %r (%s); trying the fallback",
            account,
            error,
        )
        (account, template), pending = later[0], later[1:]


def _attempt(
    claimed: list[Message],
    sms_backend: BaseSMSBackend,
    outcome: SendOutcome,
    land: Callable[..., None],
    last: bool,
    restore: Callable[[], None],
    wire_text: Mapping[int, WireText],
) -> XunchenError | None:
    """One request for the claimed rows on ``sms_backend``'s account. Unless ``last``,
    a certainly-not-sent error is returned without recording anything, so that the
    rows go straight to the fallback; when it is the last, ``restore`` first puts the
    rows back on their own account."""
    # A masked row cannot be sent again from the database: what would go back to the
    # queue fails instead.
    requeue = Status.FAILED if claimed[0].masked else Status.QUEUED
    sms_backend.request_started = False
    try:
        request = _request_for(claimed, [r.mobile for r in claimed], sms_backend, wire_text)
    except XunchenValidationError as exc:
        land(Status.FAILED, exc, error_code="invalid", error_message=str(exc))
        return exc
    except BaseException:
        land(requeue, error_message="Interrupted before the request was made.")
        raise
    outcome.requests += 1
    try:
        result = sms_backend.send(request)
    except NotSentError as exc:
        if last:
            _not_sent(claimed, exc, land, restore)
        return exc
    except XunchenValidationError as exc:
        logger.warning("SMS request refused before it was sent: %s", exc)
        land(Status.FAILED, exc, error_code="invalid", error_message=str(exc))
        return exc
    except OutcomeUnknownError as exc:
        logger.error("SMS request outcome unknown for %d numbers: %s", len(claimed), exc)
        land(Status.UNKNOWN, exc, error_message=str(exc))
        return exc
    except GatewayError as exc:
        if isinstance(exc, ACCOUNT_ERRORS):
            if last:
                _not_sent(claimed, exc, land, restore)
            return exc
        if isinstance(exc, BlockedWordsError) and exc.words:
            policy.learn_blocked_words(sms_backend.account, exc.words, claimed[0])
        logger.warning("SMS request refused: %s", exc)
        land(
            Status.FAILED,
            exc,
            error_code=exc.code,
            error_message=str(exc),
            blocked_words=list(getattr(exc, "words", [])),
        )
        return exc
    except BaseException as exc:
        if sms_backend.request_started or not sms_backend.tracks_request_start:
            land(Status.UNKNOWN, error_message=f"{type(exc).__name__} in the SMS backend")
        else:
            land(
                requeue,
                error_message=f"{type(exc).__name__} in the SMS backend before the request",
            )
        raise
    outcome.sent += len(claimed)
    land(Status.SENT, msgid=result.msgid, submitted_at=timezone.now())
    return None


def _not_sent(
    claimed: list[Message],
    error: XunchenError,
    land: Callable[..., None],
    restore: Callable[[], None],
    held: bool = False,
) -> None:
    """Record that a request certainly did not go out and no other account will take it:
    the rows go back to their own account, and to the queue (a network fault, or
    ``held``: a fallback that may not take them now) or ``failed`` (the account
    refused)."""
    restore()
    if isinstance(error, NotSentError) or held:
        requeue = Status.FAILED if claimed[0].masked else Status.QUEUED
        logger.warning("SMS request not sent (%s): %s", requeue, error)
        land(requeue, error if requeue == Status.FAILED else None, error_message=str(error))
        return
    logger.warning("SMS request refused: %s", error)
    land(
        Status.FAILED,
        error,
        error_code=getattr(error, "code", ""),
        error_message=str(error),
        blocked_words=list(getattr(error, "words", [])),
    )


def _refresh(rows: Sequence[Message]) -> None:
    found = Message.objects.filter(pk__in=[r.pk for r in rows]).values_list(
        "pk", "status", "error_message"
    )
    for pk, status, error_message in found:
        for row in rows:
            if row.pk == pk:
                row.status, row.error_message = status, error_message
