"""``send_sms`` and ``resend``: write the rows (admitted by the sending rules) and
dispatch them now, on commit, or in the background."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .. import policy
from ..analytics.numbers import stamp
from ..backends import get_backend
from ..backends.base import BaseSMSBackend
from ..client.types import Mobiles
from ..client.validation import Params
from ..conf import DEFAULT_KIND, account_names, xunchen_settings
from ..db import to_db_datetime
from ..dispatch.submit import Backends, dispatch
from ..exceptions import BalanceTooLowError
from ..models import Message, Template
from ..tasks import enqueue_send
from . import admission
from .bulk import insert_messages
from .compose import prepare_messages, resolve_account

Status = Message.Status


def send_sms(
    mobiles: Mobiles,
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

    Everything is validated before anything is written: a send that would take the
    account over its ``MONTHLY_CAP`` raises
    :class:`~django_xunchen.exceptions.MonthlyCapError`. Inside a transaction, a backend
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
    admission.check_monthly_cap(rows)
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
    if backends.sends_externally(r.account for r in rows) and connection.in_atomic_block:
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


def resend(
    messages: Iterable[Message], *, backend: str | None = None, background: bool | None = None
) -> tuple[list[Message], list[Message]]:
    """Send each message again as a new Message linked by ``resent_from``.

    Each goes out on the account the original was sent with. Returns ``(created,
    skipped)``: messages still ``queued`` or ``sending``, whose template is no longer
    active, whose account is no longer configured, or that held a verification code
    (``masked``: a code is never sent again from a stored row), are skipped. Errors are recorded
    on the new rows. Resends that would take an account over its ``MONTHLY_CAP`` raise
    :class:`~django_xunchen.exceptions.MonthlyCapError`, nothing written.
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
    stamp(created)
    admission.screen(created)
    admission.check_monthly_cap(created)
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
