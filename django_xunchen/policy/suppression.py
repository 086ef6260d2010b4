"""Suppression: numbers that get no more messages of some kinds (opted out, bounced,
added by staff)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef

from ..client.validation import validate_mobiles
from ..conf import xunchen_settings
from ..db import one_of
from ..models import InboundMessage, Message, Report, Suppression
from ..signals import opted_in, opted_out, send_on_commit

Kind = Message.Kind


def suppressed(mobiles: Iterable[str], kind: str) -> dict[str, Suppression]:
    """The numbers among ``mobiles`` that may not get a message of ``kind`` (one query;
    none for verification codes)."""
    if kind == Kind.VERIFICATION:
        return {}
    numbers = set(mobiles)
    if not numbers:
        return {}
    scopes = [Suppression.Scope.ALL]
    if kind == Kind.MARKETING:
        scopes.append(Suppression.Scope.MARKETING)
    found = Suppression.objects.filter(one_of(Suppression, "mobile", numbers), scope__in=scopes)
    return {s.mobile: s for s in found}


def suppressed_filter(kind: str) -> Exists | None:
    """A filter for messages of ``kind`` whose number is on the list (``None`` for
    verification codes, which are never suppressed)."""
    if kind == Kind.VERIFICATION:
        return None
    scopes = [Suppression.Scope.ALL]
    if kind == Kind.MARKETING:
        scopes.append(Suppression.Scope.MARKETING)
    return Exists(Suppression.objects.filter(mobile=OuterRef("mobile"), scope__in=scopes))


def suppress(
    mobile: str,
    *,
    source: str,
    scope: str = Suppression.Scope.MARKETING,
    cause: str = "",
    reply: InboundMessage | None = None,
) -> Suppression:
    """Put ``mobile`` on the suppression list (widening the scope of an existing entry,
    never narrowing it) and send ``opted_out`` after the commit."""
    (number,) = validate_mobiles(mobile)
    with transaction.atomic():
        entry, created = Suppression.objects.select_for_update().get_or_create(
            mobile=number,
            defaults={"scope": scope, "source": source, "cause": cause[:200], "reply": reply},
        )
        if not created and scope == Suppression.Scope.ALL and entry.scope != scope:
            entry.scope, entry.source, entry.cause = scope, source, cause[:200]
            entry.save(update_fields=["scope", "source", "cause"])
        if created or entry.scope == scope:
            send_on_commit(
                [(opted_out, Suppression, {"mobile": number, "suppression": entry, "reply": reply})]
            )
    return entry


def unsuppress(mobile: str, *, reply: InboundMessage | None = None) -> bool:
    """Take ``mobile`` off the list; ``opted_in`` is sent after the commit. True if it was
    on it."""
    (number,) = validate_mobiles(mobile)
    deleted, _ = Suppression.objects.filter(mobile=number).delete()
    if deleted:
        send_on_commit([(opted_in, Suppression, {"mobile": number, "reply": reply})])
    return bool(deleted)


def apply_bounces(mobiles: Iterable[str]) -> None:
    """Suppress numbers whose last ``BOUNCE_THRESHOLD`` reports were all undelivered with
    one and the same status (inside the ingest transaction)."""
    conf = xunchen_settings()
    threshold = int(conf["BOUNCE_THRESHOLD"] or 0)
    numbers = sorted(set(mobiles))
    if threshold < 1 or not numbers:
        return
    recent: dict[str, list[tuple[bool, str]]] = {}
    rows = (
        Report.objects.filter(mobile__in=numbers)
        .order_by("mobile", "-id")
        .values_list("mobile", "delivered", "status")
    )
    for mobile, delivered, status in rows.iterator():
        if len(recent.setdefault(mobile, [])) < threshold:
            recent[mobile].append((delivered, status))
    already = set(Suppression.objects.filter(mobile__in=numbers).values_list("mobile", flat=True))
    for mobile, last in recent.items():
        statuses = {status for delivered, status in last if not delivered}
        bounced = len(last) == threshold and not any(d for d, _ in last) and len(statuses) == 1
        if bounced and mobile not in already and len(mobile) == 11:
            cause = f"{threshold} reports in a row: {statuses.pop()}"
            suppress(
                mobile, source=Suppression.Source.BOUNCE, scope=conf["BOUNCE_SCOPE"], cause=cause
            )
