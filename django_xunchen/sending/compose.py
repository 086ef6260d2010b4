"""Compose the rows of a send: resolve the template and account, check labels, and build
one unsaved Message per number."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from ..analytics.numbers import stamp
from ..backends.base import BaseSMSBackend
from ..client.secret import Secret
from ..client.validation import Params, build_send_request, render_template, validate_mobiles
from ..conf import DEFAULT_KIND, KINDS, UnknownAccount, allowed_kinds, route
from ..db import to_db_datetime
from ..exceptions import (
    InvalidAccountChoiceError,
    InvalidKindError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)
from ..models import Message, Template, params_for_storage
from . import admission


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
    if request.sensitive:
        text = Secret(text)  # a verification code's: masked in any repr
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
    """Unsaved rows like ``prototype``, one per number (the first may be ``prototype``),
    each with its number's carrier and province (:func:`~django_xunchen.analytics.numbers.stamp`).

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
        rows = [Message(**{**values, **_own_json(values), "mobile": number}) for number in numbers]
        stamp(rows)
        return rows
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
    stamp(rows)
    return rows


def _own_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": list(values["tags"]),
        "metadata": dict(values["metadata"]),
        "params": dict(values["params"]),
    }
