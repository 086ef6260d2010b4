"""Suppression: numbers that get no more messages of some kinds (opted out, bounced,
added by staff)."""

from __future__ import annotations

import datetime as dt
import itertools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.db.models.constants import OnConflict
from django.utils import timezone

from ..client.types import Mobile
from ..client.validation import validate_mobiles
from ..conf import xunchen_settings
from ..consent import ledger as consent_ledger
from ..db import one_of
from ..models import Consent, EventType, InboundMessage, Message, Report, Suppression
from ..signals import opted_in, opted_out, send_on_commit, send_robust_logged
from ..webhooks import events as webhook_events

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
    mobile: Mobile,
    *,
    source: str,
    scope: str = Suppression.Scope.MARKETING,
    cause: str = "",
    reply: InboundMessage | None = None,
    staff: object = None,
) -> Suppression:
    """Put ``mobile`` on the suppression list (widening the scope of an existing entry,
    never narrowing it) and send ``opted_out`` after the commit. The consent ledger gets
    a withdrawal of marketing and of every list the number had consented to, with the
    same source (``staff``: the user who did it)."""
    (number,) = validate_mobiles(mobile)
    with transaction.atomic():
        consent_ledger.withdraw_everywhere(
            number,
            source=_CONSENT_SOURCE[source],
            at=reply_time(reply, end=True) if reply is not None else None,
            evidence=consent_ledger.Evidence(reply=reply, note=cause, staff=staff),
        )
        entry, created = Suppression.objects.select_for_update().get_or_create(
            mobile=number,
            defaults={"scope": scope, "source": source, "cause": cause[:200], "reply": reply},
        )
        widened = not created and scope == Suppression.Scope.ALL and entry.scope != scope
        if widened:
            entry.scope, entry.source, entry.cause = scope, source, cause[:200]
            entry.save(update_fields=["scope", "source", "cause"])
        if created or widened:
            webhook_events.record(EventType.SUPPRESSION_ADDED, [entry.pk])
        if created or entry.scope == scope:
            send_on_commit(
                [(opted_out, Suppression, {"mobile": number, "suppression": entry, "reply": reply})]
            )
    return entry


def reply_time(reply: InboundMessage, *, end: bool = False) -> dt.datetime | None:
    """When the person sent ``reply``, for the consent ledger. The gateway gives it to
    the second: a 退订 counts from the end of its second (``end``), a 订阅 from its
    start, so that a grant and a refusal within one second leave the refusal in force."""
    if reply.received_at is None:
        return None
    second = reply.received_at.replace(microsecond=0)
    return second + dt.timedelta(microseconds=999_999) if end else second


#: The consent ledger's source for a withdrawal, by the suppression entry's source.
_CONSENT_SOURCE = {
    Suppression.Source.REPLY: Consent.Source.REPLY,
    Suppression.Source.STAFF: Consent.Source.STAFF,
    Suppression.Source.IMPORT: Consent.Source.IMPORT,
    Suppression.Source.BOUNCE: Consent.Source.BOUNCE,
}

#: Numbers written (and looked up) per statement by :func:`suppress_many`.
BULK_BATCH = 1000


@dataclass
class Suppressed:
    """What :func:`suppress_many` did: numbers put on the list, numbers whose scope it
    widened to ``all``, and numbers already on it with that scope or a wider one."""

    added: int = 0
    widened: int = 0
    already: int = 0


def _batches(values: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(values)
    while batch := list(itertools.islice(it, size)):
        yield batch


def suppress_many(
    mobiles: Iterable[str],
    *,
    source: str,
    scope: str = Suppression.Scope.MARKETING,
    cause: str = "",
) -> Suppressed:
    """:func:`suppress` for many numbers (an import): one transaction, written
    :data:`BULK_BATCH` numbers a statement, ``mobiles`` read as it goes, so that a file
    of a million rows is never held whole. Whatever ``mobiles`` raises (an upload found
    bad halfway) rolls back every row: a refused file leaves nothing behind.

    Each number gets what :func:`suppress` would give it (added, or its scope widened,
    never narrowed), and ``opted_out`` is sent after the commit for the same numbers,
    once each. Numbers with a current consent get a withdrawal in the consent ledger
    (:func:`~django_xunchen.consent.ledger.withdraw_granted`). Raises
    :class:`~django_xunchen.exceptions.InvalidMobileError` for a value that is not a
    mobile number."""
    result = Suppressed()
    signalled = array("Q")  # 8 bytes a number, until the commit
    stamp = timezone.now()
    widened: set[str] = set()
    with transaction.atomic():
        hooked = webhook_events.subscribed(EventType.SUPPRESSION_ADDED)
        for batch in _batches(mobiles, BULK_BATCH):
            numbers = validate_mobiles(batch)
            consent_ledger.withdraw_granted(numbers, source=_CONSENT_SOURCE[source], note=cause)
            existing = {
                entry.mobile: entry
                for entry in Suppression.objects.select_for_update().filter(
                    one_of(Suppression, "mobile", numbers)
                )
            }
            new = [n for n in numbers if n not in existing]
            _insert(new, scope=scope, source=source, cause=cause[:200], created_at=stamp)
            result.added += len(new)
            signalled.extend(int(n) for n in new)
            wider = []
            for number, entry in existing.items():
                if (entry.created_at == stamp and entry.source == source) or number in widened:
                    continue  # twice in the file: done at its first row
                if scope == Suppression.Scope.ALL and entry.scope != scope:
                    wider.append(entry.pk)
                    widened.add(number)
                    result.widened += 1
                else:
                    result.already += 1
                    if entry.scope != scope:
                        continue  # already suppressed for more: no signal, as suppress()
                signalled.append(int(number))
            if wider:
                Suppression.objects.filter(pk__in=wider).update(
                    scope=scope, source=source, cause=cause[:200]
                )
            if hooked and (new or wider):
                webhook_events.record(
                    EventType.SUPPRESSION_ADDED,
                    [
                        *Suppression.objects.filter(one_of(Suppression, "mobile", new))
                        .filter(created_at=stamp, source=source)
                        .values_list("pk", flat=True),
                        *wider,
                    ],
                )
        transaction.on_commit(lambda: _send_opted_out(signalled))
    return result


def _insert(numbers: list[str], **values: object) -> None:
    """Insert a row for each of ``numbers``, every other column the same: one statement
    run for every number, not the ORM preparing each row's fields (a million rows).
    A number another transaction put on the list meanwhile (a reply) stays as it is."""
    if not numbers:
        return
    if not connection.features.supports_ignore_conflicts:  # Oracle: a row at a time
        for number in numbers:
            try:
                with transaction.atomic():
                    Suppression.objects.create(mobile=number, **values)
            except IntegrityError:
                continue
        return
    meta = Suppression._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in ("mobile", *values)]
    same = tuple(f.get_db_prep_save(values[f.name], connection) for f in fields[1:])
    suffix = connection.ops.on_conflict_suffix_sql(fields, OnConflict.IGNORE, None, None)
    sql = (
        f"{connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)} "
        f"{quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) {suffix or ''}"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(n, *same) for n in numbers])


def _send_opted_out(numbers: array) -> None:
    """``opted_out`` for each of ``numbers``, once each, read back a batch at a time."""
    if not numbers or not opted_out.has_listeners(Suppression):
        return
    ordered = sorted(numbers)
    unique = (n for i, n in enumerate(ordered) if not i or ordered[i - 1] != n)
    for chunk in _batches((str(n) for n in unique), BULK_BATCH):
        for entry in Suppression.objects.filter(mobile__in=chunk).order_by("mobile"):
            send_robust_logged(
                opted_out, Suppression, mobile=entry.mobile, suppression=entry, reply=None
            )


def unsuppress(mobile: Mobile, *, reply: InboundMessage | None = None) -> bool:
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
