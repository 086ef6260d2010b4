"""Recording events: in the transaction that changed the row, so that an event exists if
and only if its change committed (an outbox). Sending happens later, after the commit
(:mod:`.delivery`).

Recording costs one small query when no enabled endpoint wants the event's type, and
one INSERT for any number of objects when one does: a poll that stores 10,000 reports
records their events in a single statement.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from .. import signals
from ..models import EventType, WebhookEndpoint, WebhookEvent

__all__ = ["EventType", "record", "subscribed"]


def subscribed(event_type: str) -> bool:
    """Whether an enabled endpoint wants events of ``event_type``."""
    return any(
        event_type in (events or [])
        for events in WebhookEndpoint.objects.filter(is_active=True).values_list(
            "events", flat=True
        )
    )


def record(
    event_type: str, object_ids: Iterable[int], occurred_at: dt.datetime | None = None
) -> int:
    """Record one event of ``event_type`` for each of ``object_ids`` (messages, replies,
    suppression entries or campaigns, as the type says), if an enabled endpoint wants
    the type; their delivery starts after the commit. Call it inside the transaction
    that made the change. Returns how many were recorded."""
    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    ids = [int(pk) for pk in object_ids]
    if not ids or not subscribed(event_type):
        return 0
    at = occurred_at or timezone.now()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(WebhookEvent._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (event_id, type, object_id, occurred_at) "
                "SELECT gen_random_uuid(), %s, unnest(%s::bigint[]), %s",
                [event_type, ids, at],
            )
    else:
        WebhookEvent.objects.bulk_create(
            [
                WebhookEvent(event_id=uuid.uuid4(), type=event_type, object_id=pk, occurred_at=at)
                for pk in ids
            ],
            batch_size=1000,
        )
    _kick_after_commit()
    return len(ids)


def _kick_after_commit() -> None:
    """Tell the delivery once the transaction commits (never for a rolled-back one):
    :mod:`django_xunchen.tasks` enqueues it where a task engine defers work."""
    transaction.on_commit(
        lambda: signals.send_robust_logged(signals.webhook_events_recorded, WebhookEvent)
    )
