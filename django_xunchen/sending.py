"""Sending: validate everything, write the rows, then claim and submit them in requests.

Per request of up to 100 numbers, whatever its size: one UPDATE … RETURNING claims the
rows (``queued`` → ``sending``, committed before the request goes out; a SELECT reads
what was claimed where UPDATE cannot return rows), one UPDATE records the outcome
(:mod:`.outcomes`: retried while the database refuses, then spooled to disk). A crash
at any point leaves every row in a truthful state: ``queued`` (nothing left),
``sending`` (the process died around the request; :func:`send_queued` later marks it
``unknown``), or the outcome.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from . import admission, outcomes, policy, rollup, stopping
from .backends import get_backend
from .backends.base import BaseSMSBackend
from .bulk import insert_messages
from .client.types import SendRequest
from .client.validation import (
    Params,
    build_send_request,
    render_template,
    validate_mobiles,
)
from .conf import (
    DEFAULT_KIND,
    KINDS,
    UnknownAccount,
    account_names,
    allowed_kinds,
    route,
    xunchen_settings,
)
from .db import from_db_datetime, one_of, to_db_datetime
from .exceptions import (
    AccessMethodNotEnabledError,
    AccountDisabledError,
    BalanceTooLowError,
    BlockedWordsError,
    GatewayError,
    InsufficientBalanceError,
    InvalidAccountChoiceError,
    InvalidAccountError,
    InvalidContentError,
    InvalidKindError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    InvalidVeryCodeError,
    IPNotAllowedError,
    NotSentError,
    OutcomeUnknownError,
    XunchenError,
    XunchenValidationError,
)
from .models import Message, Template, params_for_storage
from .outcomes import Outcome

logger = logging.getLogger("django_xunchen.sending")
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
#: Added to the request deadline and the outcome retry window: a row in ``sending`` for
#: longer than their sum lost its process mid-request.
STALE_MARGIN = dt.timedelta(seconds=60)


def stale_after() -> dt.timedelta:
    """How long a row may stay ``sending`` before the sweep marks it ``unknown``: longer
    than any request (the longest deadline of any account) plus the outcome write's
    retries, so that the sweep never races a request still in flight."""
    deadline = max(float(xunchen_settings(n)["REQUEST_DEADLINE"] or 0) for n in account_names())
    seconds = deadline + float(xunchen_settings()["OUTCOME_RETRY_SECONDS"])
    return dt.timedelta(seconds=seconds) + STALE_MARGIN


# --------------------------------------------------------------------------- time


def _aware(value: dt.datetime | None, what: str) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise InvalidSendTimeError(f"{what} must be a datetime, not {type(value).__name__}")
    if timezone.is_aware(value):
        return value
    if settings.USE_TZ:
        raise InvalidSendTimeError(f"{what} must be timezone-aware (USE_TZ is True)")
    return timezone.make_aware(value, timezone.get_current_timezone())


# --------------------------------------------------------------------------- public


@dataclass
class SendOutcome:
    """What :func:`dispatch` did: the errors it met, in order, the requests it made and
    the messages it got accepted (only its own, whatever other processes did)."""

    errors: list[XunchenError] = field(default_factory=list)
    requests: int = 0
    sent: int = 0


def resolve_template(template: Template | str | None, account: str = "default") -> Template | None:
    """The active :class:`Template` for ``template`` (an instance, or a vendor id looked
    up within ``account``: vendor template ids belong to one account)."""
    if template is None or isinstance(template, Template):
        if template is not None and not template.is_active:
            raise InvalidTemplateParamsError(f"template {template.template_id} is not active")
        if template is not None and template.account != account:
            raise InvalidAccountChoiceError(
                f"template {template.template_id} belongs to account {template.account!r}, "
                f"not {account!r}"
            )
        return template
    template_id = str(template).strip()
    found = Template.objects.filter(account=account, template_id=template_id).first()
    if found is None:
        raise InvalidTemplateParamsError(
            f"no template with vendor id {template_id!r} for account {account!r}; add it "
            "under Templates first"
        )
    return resolve_template(found, account)


def resolve_account(kind: str, account: str | None = None) -> str:
    """The account a message of ``kind`` goes out on (see :func:`~.conf.route`), after
    checking that it exists and may send that kind."""
    if kind not in KINDS:
        raise InvalidKindError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if account is not None and (not isinstance(account, str) or not account.strip()):
        raise InvalidAccountChoiceError(f"account must be a non-empty name, not {account!r}")
    name = route(kind, account)
    try:
        kinds = allowed_kinds(name)
    except UnknownAccount as exc:
        raise InvalidAccountChoiceError(str(exc)) from None
    if kind not in kinds:
        allowed = ", ".join(sorted(kinds)) or "none"
        raise InvalidAccountChoiceError(
            f"account {name!r} may not send {kind} messages (it takes: {allowed}); route "
            f"them elsewhere or add {kind!r} to XUNCHEN['ACCOUNTS'][{name!r}]['KINDS']"
        )
    return name


def _check_labels(tags: object, metadata: object) -> tuple[list[str], dict[str, Any]]:
    if tags is None:
        tags = []
    if isinstance(tags, str) or not isinstance(tags, (list, tuple, set, frozenset)):
        raise XunchenValidationError(f"tags must be a list of strings, not {tags!r}")
    clean = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 100:
            raise XunchenValidationError(
                f"each tag must be a non-blank string of at most 100 characters, not {tag!r}"
            )
        if tag.strip() not in clean:
            clean.append(tag.strip())
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise XunchenValidationError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as exc:
        raise XunchenValidationError(f"metadata must be JSON-serialisable: {exc}") from None
    return clean, metadata


def prepare_messages(
    mobiles: str | Iterable[object],
    content: str | None = None,
    *,
    template: Template | str | None = None,
    params: Params | None = None,
    extcode: object = None,
    send_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    kind: str = DEFAULT_KIND,
    tags: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    backend: BaseSMSBackend,
) -> list[Message]:
    """Validate a send and return unsaved Message rows, one per number, on the account
    ``backend`` holds.

    Raises a :class:`~django_xunchen.exceptions.XunchenValidationError` for any bad input.
    """
    if kind not in KINDS:
        raise InvalidKindError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    clean_tags, clean_metadata = _check_labels(tags, metadata)
    tpl = resolve_template(template, backend.account)
    numbers = validate_mobiles(mobiles)
    send_at = _aware(send_at, "send time")
    expires_at = _aware(expires_at, "expiry time")
    if tpl is not None:
        admission.text(tpl.body, kind, backend.account, tpl)  # a marketing one needs a footer
    elif isinstance(content, str) and content.strip():
        if kind == Message.Kind.MARKETING:
            content = content.strip()
        content = admission.text(content, kind, backend.account)
    request = build_send_request(
        numbers[:1],
        content,
        template_id=tpl.template_id if tpl else None,
        params=params,
        template_body=tpl.body if tpl else None,
        extcode=extcode,
        send_at=send_at,
        encoding=backend.encoding,
    )
    if expires_at is not None:
        if expires_at <= timezone.now():
            raise InvalidSendTimeError(f"expiry time {expires_at.isoformat()} has passed")
        if send_at is not None and expires_at <= send_at:
            raise InvalidSendTimeError("expiry time is not after the send time")
    text = render_template(tpl.body, request.params) if tpl else request.content
    admission.check_blocked_words(text, kind, backend.account)
    hold_until = admission.hold(kind, backend.account, send_at or timezone.now())
    if hold_until is not None:
        send_at = None  # held here, not at the gateway, so that an opt-out still applies
    prototype = Message(
        mobile=numbers[0],
        content=text,
        template=tpl,
        params=params_for_storage(request.params),
        extcode=request.extcode or "",
        send_at=to_db_datetime(send_at),
        hold_until=to_db_datetime(hold_until),
        parts=admission.part_counter(backend.account)(text),
        expires_at=to_db_datetime(expires_at),
        batch=uuid.uuid4(),
        kind=kind,
        account=backend.account,
        tags=clean_tags,
        metadata=clean_metadata,
    )
    return clone_for(prototype, numbers)


def clone_for(prototype: Message, numbers: Sequence[str]) -> list[Message]:
    """Unsaved rows like ``prototype``, one per number (the first may be ``prototype``).

    ``Model.__init__`` costs more than everything else per row in a large send, and every
    row of a send has the same values but the number: the rows are copies of one, with
    their own state and their own (shallow) copies of the JSON values. Hosts that listen to
    ``pre_init`` or ``post_init`` for Message get real ``__init__`` calls.
    """
    if pre_init.has_listeners(Message) or post_init.has_listeners(Message):
        values = {
            f.attname: getattr(prototype, f.attname)
            for f in Message._meta.concrete_fields
            if not f.primary_key
        }
        values["template"] = prototype.template
        del values["template_id"]
        return [Message(**{**values, **_own_json(values), "mobile": number}) for number in numbers]
    values = prototype.__dict__
    cache = prototype._state.fields_cache
    rows = []
    for number in numbers:
        row = Message.__new__(Message)
        row.__dict__.update(values)
        row.__dict__.update(_own_json(values))
        row.mobile = number
        state = ModelState()
        state.fields_cache = dict(cache)
        row._state = state
        rows.append(row)
    return rows


def send_sms(
    mobiles: str | Iterable[object],
    content: str | None = None,
    *,
    template: Template | str | None = None,
    params: Params | None = None,
    extcode: object = None,
    send_at: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    kind: str = DEFAULT_KIND,
    account: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    fail_silently: bool = False,
    backend: str | None = None,
    background: bool | None = None,
) -> list[Message]:
    """Send one SMS to each number; return the Message rows created, one per number.

    ``background`` (default: ``XUNCHEN["BACKGROUND"]``): store the rows ``queued`` and
    enqueue their sending on Django's Tasks framework after the commit
    (:mod:`django_xunchen.tasks`); the rows come back ``queued``.

    ``kind`` is ``"verification"``, ``"notification"`` (the default) or ``"marketing"``.
    The account is ``account`` if given, else ``XUNCHEN["ROUTES"][kind]``, else
    ``"default"``; it must be allowed to send that kind. ``backend`` (a dotted path)
    replaces the class of backend for this call only, on every account it touches;
    the account still supplies the settings and is recorded on the rows. ``tags`` (a
    list of strings) and ``metadata`` (a JSON-serialisable dict) are stored on each row
    for filtering and for signal receivers.

    Everything is validated before anything is written. Inside a transaction, a backend
    that reaches real handsets sends after the commit (the rows are returned ``queued``).
    Unless ``fail_silently``, the first gateway or transport error is raised after every
    row has been recorded; the rows are on the exception as ``sms_messages``.
    """
    name = resolve_account(kind, account)
    sms_backend = get_backend(backend, account=name, fail_silently=fail_silently)
    rows = prepare_messages(
        mobiles,
        content,
        template=template,
        params=params,
        extcode=extcode,
        send_at=send_at,
        expires_at=expires_at,
        kind=kind,
        tags=tags,
        metadata=metadata,
        backend=sms_backend,
    )
    check_balance(rows, sms_backend)
    admission.screen(rows)
    if background is None:
        background = bool(xunchen_settings()["BACKGROUND"])
    with transaction.atomic():
        insert_messages(rows)
        if background:
            from .tasks import enqueue_send

            enqueue_send(rows)
    if background:
        return rows
    return _dispatch_now_or_on_commit(rows, Backends(backend, sms_backend), fail_silently)


def check_balance(rows: Sequence[Message], sms_backend: BaseSMSBackend) -> None:
    """Above ``BALANCE_CHECK_ABOVE`` numbers, refuse a send the balance would not cover
    once what is already queued on the account is paid for."""
    limit = xunchen_settings()["BALANCE_CHECK_ABOVE"]
    if limit is None or len(rows) <= limit:
        return
    account = sms_backend.account
    needed = policy.price_per_part(account) * sum(policy.parts(r.content, account) for r in rows)
    balance = sms_backend.get_balance().amount
    available = balance - policy.queued_cost(account)
    if needed > available:
        raise BalanceTooLowError(
            f"the send costs {needed} but account {account!r} has {available} left after "
            f"what is already queued (balance {balance}); nothing was written",
            needed=needed,
            available=available,
        )


def _dispatch_now_or_on_commit(
    rows: list[Message], backends: Backends, fail_silently: bool
) -> list[Message]:
    if backends.sends_externally and connection.in_atomic_block:
        transaction.on_commit(lambda: dispatch(rows, backends))
        return rows
    outcome = dispatch(rows, backends)
    if outcome.errors and not fail_silently:
        error = outcome.errors[0]
        error.sms_messages = rows  # type: ignore[attr-defined]
        raise error
    return rows


def can_resend(message: Message) -> bool:
    """Not while it may still go out on its own, nor with a template since deactivated,
    nor on an account no longer configured."""
    if message.status in (Status.QUEUED, Status.SENDING) or message.masked:
        return False
    if message.account not in account_names():
        return False
    return message.template is None or message.template.is_active


def _own_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": list(values["tags"]),
        "metadata": dict(values["metadata"]),
        "params": dict(values["params"]),
    }


def resend(
    messages: Iterable[Message], *, backend: str | None = None, background: bool | None = None
) -> tuple[list[Message], list[Message]]:
    """Send each message again as a new Message linked by ``resent_from``.

    Each goes out on the account the original was sent with. Returns ``(created,
    skipped)``: messages still ``queued`` or ``sending``, whose template is no longer
    active, whose account is no longer configured, or that held a verification code
    (``masked``: a code is never sent again from a stored row), are skipped. Errors are recorded
    on the new rows.
    """
    batch = uuid.uuid4()
    created, skipped = [], []
    now = timezone.now()
    words: dict[str, list[str]] = {}
    for original in messages:
        if not can_resend(original):
            skipped.append(original)
            continue
        account = original.account
        if account not in words:
            words[account] = admission.learned_words(account)
        if admission.blocked_words(original.content, original.kind, account, words[account]):
            skipped.append(original)
            continue
        created.append(
            Message(
                mobile=original.mobile,
                content=original.content,
                template=original.template,
                params=original.params,
                extcode=original.extcode,
                batch=batch,
                resent_from=original,
                kind=original.kind,
                account=original.account,
                parts=original.parts,
                hold_until=to_db_datetime(admission.hold(original.kind, account, now)),
                tags=original.tags,
                metadata=original.metadata,
            )
        )
    if background is None:
        background = bool(xunchen_settings()["BACKGROUND"])
    admission.screen(created)
    if created:
        backends = Backends(backend)
        with transaction.atomic():
            Message.objects.bulk_create(created)
            if background:
                from .tasks import enqueue_send

                for kind in {m.kind for m in created}:
                    enqueue_send([m for m in created if m.kind == kind])
        if not background:
            _dispatch_now_or_on_commit(created, backends, fail_silently=True)
    return created, skipped


def send_queued(
    *, limit: int = 10000, backend: str | None = None, idle_for: float | None = None
) -> dict[str, int]:
    """Send what is waiting: rows left ``queued`` by a failed or interrupted send.

    ``idle_for`` (seconds) leaves alone the rows written or retried more recently than
    that, unless they were held and are now due: the background tick passes it, so that
    rows whose send task is on its way are sent by that task, spread over the workers.

    Also applies this host's spooled outcomes, marks expired rows ``expired`` and rows
    stuck in ``sending`` (their process died mid-request) ``unknown``. Safe to run from
    several processes at once: each row is claimed by exactly one, and ``sent`` counts
    what this call sent.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    if idle_for is not None and (
        isinstance(idle_for, bool) or not isinstance(idle_for, (int, float)) or idle_for < 0
    ):
        raise ValueError(f"idle_for must be a number of seconds, not {idle_for!r}")
    backends = Backends(backend)
    spooled = outcomes.apply_spool()
    now = timezone.now()
    expiring = Message.objects.filter(status=Status.QUEUED, expires_at__lte=now)
    rollup.touched_where(expiring)
    expired = expiring.update(status=Status.EXPIRED, updated_at=now)
    stuck = Message.objects.filter(status=Status.SENDING, updated_at__lt=now - stale_after())
    rollup.touched_where(stuck)
    stale = stuck.update(
        status=Status.UNKNOWN,
        claim=None,
        updated_at=now,
        error_message="The sending process stopped before it recorded the outcome.",
    )
    waiting = Message.objects.filter(status=Status.QUEUED, account__in=account_names())
    if idle_for is None:
        waiting = waiting.filter(Q(hold_until__isnull=True) | Q(hold_until__lte=now))
    else:
        idle_since = now - dt.timedelta(seconds=idle_for)
        waiting = waiting.filter(
            Q(hold_until__isnull=True, updated_at__lte=idle_since) | Q(hold_until__lte=now)
        )
    rows = list(waiting.select_related("template").order_by("created_at", "pk")[:limit])
    outcome = dispatch(rows, backends)
    return {
        "expired": expired,
        "stale": stale,
        "spooled": spooled,
        "claimed": len(rows),
        "sent": outcome.sent,
        "requests": outcome.requests,
    }


# --------------------------------------------------------------------------- dispatch


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

    @property
    def sends_externally(self) -> bool:
        """Whether any account's backend reaches real handsets (decides whether a send
        inside a transaction waits for the commit)."""
        if self.path is not None or not self._built:
            return self.get_unopened("default").sends_externally
        return any(b.sends_externally for b in self._built.values())

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
    if workers > 1:
        _submit_in_threads(chunks, backends, outcome, workers, wire_text)
        return outcome
    with admission.one_dispatch():
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

    threads = [threading.Thread(target=work, name=f"xunchen-send-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    backends.close()
    if crashed:
        raise crashed[0]


def fallbacks(
    account: str, kind: str, template: Template | None
) -> list[tuple[str, Template | None]]:
    """The accounts a request on ``account`` may go to instead, in order, each with the
    template to use there: each account's ``FALLBACK`` in turn, skipping any that may not
    send ``kind`` and, for a template message, any without an active template of the same
    vendor id and text."""
    found: list[tuple[str, Template | None]] = []
    seen = {account}
    name = xunchen_settings(account)["FALLBACK"]
    while name and name not in seen:
        seen.add(name)
        try:
            eligible = kind in allowed_kinds(name)
        except UnknownAccount:
            break
        there = template
        if eligible and template is not None:
            there = Template.objects.filter(
                account=name, template_id=template.template_id, body=template.body, is_active=True
            ).first()
            eligible = there is not None
        if eligible:
            found.append((name, there))
        name = xunchen_settings(name)["FALLBACK"]
    return found


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
    kind = rows[0].kind
    claimed_ids = _claim(
        admission.claimable(Message.objects.filter(one_of(Message, "id", ids)), kind, now),
        token,
        now,
    )
    if len(claimed_ids) < len(rows):
        unclaimed = [r for r in rows if r.pk not in claimed_ids]
        admission.suppress_unclaimed([r.pk for r in unclaimed], kind, now)
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
    account, template = routes[0]
    later = allowed(routes[1:])
    while True:
        if claimed[0].account != account:
            _move(claimed, token, account, template)
        error = _attempt(claimed, backends[account], outcome, land, not later, restore, wire_text)
        if not isinstance(error, CERTAINLY_NOT_SENT):
            return error
        down.add(account)
        if not later:
            return error
        later = allowed([r for r in later if r[0] not in down])
        if not later:
            _not_sent(claimed, error, land, restore)
            return error
        logger.warning(
            "SMS request certainly not sent on account %r (%s); trying the fallback",
            account,
            error,
        )
        (account, template), later = later[0], later[1:]


def _claim(claimable: QuerySet[Message], token: uuid.UUID, now: dt.datetime) -> set[int]:
    """Claim the rows of ``claimable`` for one request; return their ids. One statement
    where UPDATE … RETURNING exists (PostgreSQL, SQLite 3.35+), else the UPDATE and a
    SELECT by the claim token."""
    values = {"status": Status.SENDING, "claim": token, "attempts": F("attempts") + 1}
    # The claim is cleared with the outcome; the request and its time stay, so that a
    # report can still prove which rows went together (:mod:`.recovery`).
    values.update(updated_at=now, request=token, requested_at=now)
    if not _update_returns_rows():
        if not claimable.update(**values):
            return set()
        return set(Message.objects.filter(claim=token).values_list("pk", flat=True))
    query = claimable.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(claimable.db).as_sql()
    pk = connection.ops.quote_name(Message._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return {row[0] for row in cursor.fetchall()}


def _update_returns_rows() -> bool:
    if connection.vendor == "postgresql":
        return True
    if connection.vendor == "sqlite":
        return connection.Database.sqlite_version_info >= (3, 35)
    return False


def _move(
    rows: Sequence[Message], token: uuid.UUID, account: str, template: Template | None
) -> None:
    """Put claimed rows (still ``sending``) on another account before its attempt, or
    back on their own once every attempt certainly failed."""
    Message.objects.filter(pk__in=[r.pk for r in rows], claim=token).update(
        account=account, template=template
    )
    for row in rows:
        row.account, row.template = account, template


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
) -> None:
    """Record that a request certainly did not go out and no other account will take it:
    the rows go back to their own account, and to the queue (a network fault) or
    ``failed`` (the account refused)."""
    restore()
    if isinstance(error, NotSentError):
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
