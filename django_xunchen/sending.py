"""Sending: validate everything and write the rows (:func:`send_sms`, :func:`resend`), then
hand them to :func:`.dispatch.dispatch`, here or through a background task.

Nothing is written until every input is valid. The rules of :mod:`.admission` decide
what each row may be when it is written; :mod:`.dispatch` applies them again when it
submits.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from . import admission, policy
from .backends import get_backend
from .backends.base import BaseSMSBackend
from .bulk import insert_messages
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
from .db import to_db_datetime
from .dispatch import Backends, dispatch
from .exceptions import (
    BalanceTooLowError,
    InvalidAccountChoiceError,
    InvalidKindError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)
from .models import Message, Template, params_for_storage
from .tasks import enqueue_send

logger = logging.getLogger("django_xunchen.sending")
Status = Message.Status

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
                for kind in {m.kind for m in created}:
                    enqueue_send([m for m in created if m.kind == kind])
        if not background:
            _dispatch_now_or_on_commit(created, backends, fail_silently=True)
    return created, skipped
