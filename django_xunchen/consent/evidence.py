"""The evidence document of one number: its consent history with the evidence of each
entry, its state now, its place on the suppression list, and every marketing message
written to it with what became of it. What a site hands over when a complaint (12321)
asks whether the person agreed; HTML for printing, JSON for a record."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from ..client.validation import validate_mobiles
from ..models import Consent, Message, Suppression
from .ledger import history


@dataclass
class EvidenceDocument:
    """What is known of one number's consent, as of :attr:`produced_at`."""

    mobile: str
    produced_at: dt.datetime
    entries: list[Consent]
    suppression: Suppression | None
    messages: list[Message] = field(default_factory=list)

    @property
    def current(self) -> dict[str, Consent]:
        """The latest entry of each scope: the number's state now."""
        latest: dict[str, Consent] = {}
        for entry in self.entries:  # oldest first: the last one of a scope wins
            latest[entry.scope] = entry
        return dict(sorted(latest.items()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "mobile": self.mobile,
            "produced_at": _iso(self.produced_at),
            "current": {
                scope: {"granted": e.granted, "since": _iso(e.at), "entry": e.pk}
                for scope, e in self.current.items()
            },
            "suppression": _suppression(self.suppression),
            "consent": [_entry(e) for e in self.entries],
            "marketing_messages": [_message(m) for m in self.messages],
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def as_html(self) -> str:
        """A page to print, in the active language."""
        return render_to_string(
            "django_xunchen/consent/evidence.html",
            {"document": self, "current": self.current.items()},
        )


def evidence_document(mobile: str) -> EvidenceDocument:
    """The evidence document of ``mobile`` (``+86``, spaces and dashes are fine; raises
    :class:`~django_xunchen.exceptions.InvalidMobileError` for a value that is not a
    number). Reads only."""
    (number,) = validate_mobiles(mobile)
    entries = list(history(number).select_related("reply"))
    messages = (
        Message.objects.filter(mobile=number, kind=Message.Kind.MARKETING)
        .select_related("campaign")
        .order_by("created_at", "pk")
    )
    return EvidenceDocument(
        mobile=number,
        produced_at=timezone.now(),
        entries=entries,
        suppression=Suppression.objects.filter(mobile=number).first(),
        messages=list(messages),
    )


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat()


def _entry(entry: Consent) -> dict[str, Any]:
    reply = entry.reply
    return {
        "id": entry.pk,
        "scope": entry.scope,
        "granted": entry.granted,
        "at": _iso(entry.at),
        "recorded_at": _iso(entry.recorded_at),
        "source": entry.source,
        "wording": entry.wording,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "file_name": entry.file_name,
        "file_row": entry.file_row,
        "staff": entry.staff_name,
        "reply": None
        if reply is None
        else {"id": reply.pk, "content": reply.content, "received_at": _iso(reply.received_at)},
        "note": entry.note,
    }


def _suppression(entry: Suppression | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "scope": entry.scope,
        "source": entry.source,
        "cause": entry.cause,
        "since": _iso(entry.created_at),
    }


def _message(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "created_at": _iso(message.created_at),
        "submitted_at": _iso(message.submitted_at),
        "status": message.status,
        "reason": message.error_message if message.status == Message.Status.SUPPRESSED else "",
        "msgid": message.msgid,
        "report_status": message.report_status,
        "reported_at": _iso(message.reported_at),
        "campaign": message.campaign.name if message.campaign_id else None,
        "content": message.content,
    }
