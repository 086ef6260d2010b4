"""A message as the HTTP API (and its webhooks) show it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..models import Message


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message(row: Message) -> dict[str, Any]:
    """The fields a sibling service needs; a verification code's text stays masked, as
    it is stored."""
    return {
        "id": row.pk,
        "mobile": row.mobile,
        "content": row.content,
        "kind": row.kind,
        "account": row.account,
        "status": row.status,
        "msgid": row.msgid,
        "parts": row.parts,
        "template": row.template_id,
        "campaign": row.campaign_id,
        "tags": row.tags,
        "metadata": row.metadata,
        "error_code": row.error_code,
        "error": row.error_message,
        "report_status": row.report_status,
        "carrier": row.carrier,
        "province": row.province,
        "created_at": _time(row.created_at),
        "send_at": _time(row.send_at),
        "submitted_at": _time(row.submitted_at),
        "reported_at": _time(row.reported_at),
        "latency_seconds": row.latency.total_seconds() if row.latency is not None else None,
    }
