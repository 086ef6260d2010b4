"""What an endpoint receives: the event's envelope and its object as the HTTP API shows
it, built once (when the event is handed to its endpoints) and kept, so that every
retry and every replay sends the same event."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..httpapi import serialize
from ..models import Campaign, EventType, InboundMessage, Message, Suppression, WebhookEvent

_MESSAGE_TYPES = {
    EventType.MESSAGE_SENT,
    EventType.MESSAGE_DELIVERED,
    EventType.MESSAGE_UNDELIVERED,
    EventType.MESSAGE_FAILED,
}


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def reply(row: InboundMessage) -> dict[str, Any]:
    return {
        "id": row.pk,
        "mobile": row.mobile,
        "content": row.content,
        "account": row.account,
        "received_on": row.recvcode,
        "extcode": row.extcode,
        "message": row.message_id,
        "received_at": _time(row.received_at),
        "stored_at": _time(row.stored_at),
    }


def suppression(row: Suppression) -> dict[str, Any]:
    return {
        "id": row.pk,
        "mobile": row.mobile,
        "scope": row.scope,
        "source": row.source,
        "cause": row.cause,
        "reply": row.reply_id,
        "created_at": _time(row.created_at),
    }


def campaign(row: Campaign) -> dict[str, Any]:
    return {
        "id": row.pk,
        "name": row.name,
        "kind": row.kind,
        "account": row.account,
        "state": row.state,
        "valid": row.valid,
        "parts": row.total_parts,
        "started_at": _time(row.started_at),
        "finished_at": _time(row.finished_at),
    }


def objects(events: Sequence[WebhookEvent]) -> dict[int, dict[str, Any] | None]:
    """Each event's object (by event pk), loaded a query per type; ``None`` for an
    object deleted since (retention, erasure)."""
    found: dict[int, dict[str, Any] | None] = {}
    groups: dict[str, list[WebhookEvent]] = {}
    for event in events:
        groups.setdefault("message" if event.type in _MESSAGE_TYPES else event.type, []).append(
            event
        )
    loaders = {
        "message": (Message.objects.all(), serialize.message),
        EventType.REPLY_RECEIVED: (InboundMessage.objects.all(), reply),
        EventType.SUPPRESSION_ADDED: (Suppression.objects.all(), suppression),
        EventType.CAMPAIGN_FINISHED: (Campaign.objects.all(), campaign),
    }
    for group, members in groups.items():
        rows, shape = loaders[group]
        by_pk = rows.in_bulk([e.object_id for e in members])
        for event in members:
            row = by_pk.get(event.object_id)
            found[event.pk] = shape(row) if row is not None else None
    return found


def envelope(event: WebhookEvent, data: dict[str, Any] | None) -> dict[str, Any]:
    """The body of every delivery of ``event``."""
    return {
        "id": str(event.event_id),
        "type": event.type,
        "created": _time(event.occurred_at),
        "data": data if data is not None else {"id": event.object_id, "deleted": True},
    }


def body(payload: dict[str, Any]) -> bytes:
    """The bytes that are signed and sent: the same for every attempt, whatever order
    the database keeps the JSON keys in."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
