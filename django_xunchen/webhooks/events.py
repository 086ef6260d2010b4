"""Recording events: in the transaction that changed the row, so that an event exists if
and only if its change committed (an outbox). Sending happens later, after the commit
(:mod:`.delivery`).

Recording costs nothing when no enabled endpoint wants the event's type (the
subscriptions are read at most every :data:`SUBSCRIPTIONS_TTL` seconds), and one INSERT
for any number of objects when one does: a poll that stores 10,000 reports records their
events in a single statement.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from .. import signals
from ..models import EventType, Message, WebhookEndpoint, WebhookEvent

__all__ = ["MESSAGE_EVENTS", "EventType", "record", "subscribed", "update_messages"]

#: The event of each message status that has one: the one place that says which status
#: changes a receiver hears of.
MESSAGE_EVENTS = {
    Message.Status.SENT: EventType.MESSAGE_SENT,
    Message.Status.DELIVERED: EventType.MESSAGE_DELIVERED,
    Message.Status.UNDELIVERED: EventType.MESSAGE_UNDELIVERED,
    Message.Status.FAILED: EventType.MESSAGE_FAILED,
    Message.Status.UNKNOWN: EventType.MESSAGE_FAILED,
}


#: Seconds a process trusts what it read of the endpoints' subscriptions: a send reads
#: them at most this often, not once a request. Saving or deleting an endpoint in a
#: process forgets them there at once; other processes see it within this time.
SUBSCRIPTIONS_TTL = 5.0


class _Subscriptions:
    def __init__(self) -> None:
        self.types: frozenset[str] = frozenset()
        self.read_at: float | None = None

    def get(self) -> frozenset[str]:
        now = time.monotonic()
        if self.read_at is None or now - self.read_at > SUBSCRIPTIONS_TTL:
            rows = collecting().values_list("events", flat=True)
            self.types = frozenset(t for events in rows for t in (events or []))
            self.read_at = now
        return self.types

    def forget(self, *args: object, **kwargs: object) -> None:
        self.read_at = None

    def assume(self, types: frozenset[str]) -> None:
        """Take ``types`` as read just now (tests: an empty table, without a query)."""
        self.types, self.read_at = types, time.monotonic()


_subscriptions = _Subscriptions()
forget_subscriptions = _subscriptions.forget
post_save.connect(forget_subscriptions, sender=WebhookEndpoint, weak=False)
post_delete.connect(forget_subscriptions, sender=WebhookEndpoint, weak=False)


def collecting() -> models.QuerySet[WebhookEndpoint]:
    """The endpoints events are recorded and handed out for: the enabled ones, and those
    the app disabled after a day of failures (their deliveries wait, to flow once staff
    enable them again). An endpoint staff disabled gets nothing meanwhile."""
    return WebhookEndpoint.objects.filter(
        models.Q(is_active=True) | models.Q(disabled_at__isnull=False)
    )


def subscribed(event_type: str) -> bool:
    """Whether an enabled endpoint wants events of ``event_type`` (as read at most
    :data:`SUBSCRIPTIONS_TTL` seconds ago)."""
    return event_type in _subscriptions.get()


def record(
    event_type: str,
    object_ids: Iterable[int],
    occurred_at: dt.datetime | None = None,
    *,
    wanted: bool | None = None,
) -> int:
    """Record one event of ``event_type`` for each of ``object_ids`` (messages, replies,
    suppression entries or campaigns, as the type says), if an endpoint wants the type
    (``wanted``: the caller asked :func:`subscribed` already); their delivery starts
    after the commit. Call it inside the transaction that made the change. Returns how
    many were recorded."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    if wanted is None:
        wanted = subscribed(event_type)
    ids = [int(pk) for pk in object_ids] if wanted else []
    if not ids:
        return 0
    at = occurred_at or timezone.now()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(WebhookEvent._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (type, object_id, occurred_at) "
                "SELECT %s, unnest(%s::bigint[]), %s",
                [event_type, ids, at],
            )
    else:
        WebhookEvent.objects.bulk_create(
            [WebhookEvent(type=event_type, object_id=pk, occurred_at=at) for pk in ids],
            batch_size=1000,
        )
    _kick_after_commit()
    return len(ids)


def update_messages(rows: models.QuerySet[Message], status: str, **values: Any) -> int:
    """``rows.update(status=status, **values)``, with the status's event for each row it
    moved, in one transaction; the plain UPDATE when no endpoint wants the event.
    Returns how many rows moved."""
    event = MESSAGE_EVENTS.get(status)
    if event is None or not subscribed(event):
        return rows.update(status=status, **values)
    with transaction.atomic():
        ids = list(rows.select_for_update().values_list("pk", flat=True))
        moved = Message.objects.filter(pk__in=ids).update(status=status, **values)
        record(event, ids, values.get("updated_at"), wanted=True)
    return moved


def _kick_after_commit() -> None:
    """Tell the delivery once the transaction commits (never for a rolled-back one):
    :mod:`django_xunchen.tasks` enqueues it where a task engine defers work."""
    transaction.on_commit(
        lambda: signals.send_robust_logged(signals.webhook_events_recorded, WebhookEvent)
    )
