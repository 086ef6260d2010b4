"""Replies: store them and match each to the message it answers (by extension code and
number), again later for replies that came before their message was known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from .. import policy
from ..client.types import InboundSMS
from ..conf import xunchen_settings
from ..db import to_db_datetime
from ..models import EventType, InboundMessage, Message, PollJournalEntry, Report
from ..outcomes import recovery
from ..signals import inbound_received, report_matched, send_on_commit
from ..webhooks import events as webhook_events
from .reports import _messages_by_key, _recover, _write_statuses, apply_report
from .result import PollResult
from .rows import _chunks, _fit

Status = Message.Status


ORPHAN_LIMIT = 5000


def extcode_of(recvcode: str, sender: str) -> str | None:
    """The extcode in a reply's recvcode, when the account's sender number is known."""
    if sender and recvcode.startswith(sender):
        return recvcode[len(sender) :]
    return None


def _match_reply(record: InboundSMS, candidates: list[Message], sender: str) -> Message | None:
    """The most recent message to the same number whose extcode the recvcode carries."""
    ext = extcode_of(record.recvcode, sender)
    if ext is not None:
        return next((m for m in candidates if m.extcode == ext), None)
    with_ext = [m for m in candidates if m.extcode and record.recvcode.endswith(m.extcode)]
    if with_ext:
        return max(with_ext, key=lambda m: (len(m.extcode), m.submitted_at or m.created_at))
    return next((m for m in candidates if not m.extcode), None)


def _store_inbound(
    entry: PollJournalEntry, records: Sequence[InboundSMS], names: list[str], sender: str
) -> tuple[int, int]:
    conf = xunchen_settings()
    since = timezone.now() - dt.timedelta(days=conf["MATCH_WINDOW_DAYS"])
    stored = matched = 0
    for start, chunk in _chunks(records):
        candidates: dict[str, list[Message]] = {}
        for candidate in Message.objects.filter(
            account__in=names,
            mobile__in={r.mobile for r in chunk},
            submitted_at__gte=since,
            status__in=[Status.SENT, Status.DELIVERED, Status.UNDELIVERED],
        ).order_by("-submitted_at", "-pk"):
            candidates.setdefault(candidate.mobile, []).append(candidate)
        rows = []
        for offset, record in enumerate(chunk):
            message = _match_reply(record, candidates.get(record.mobile, []), sender)
            ext = extcode_of(record.recvcode, sender)
            rows.append(
                InboundMessage(
                    account=entry.account,
                    source=entry,
                    position=start + offset,
                    mobile=record.mobile,
                    recvcode=record.recvcode,
                    content=record.content,
                    received_at=to_db_datetime(record.received_at),
                    message=message,
                    extcode=ext if ext is not None else (message.extcode if message else ""),
                )
            )
        InboundMessage.objects.bulk_create([_fit(row) for row in rows])
        webhook_events.record(EventType.REPLY_RECEIVED, [row.pk for row in rows])
        policy.apply_reply_keywords(rows)
        stored += len(rows)
        matched += sum(1 for r in rows if r.message is not None)
        send_on_commit(
            (inbound_received, InboundMessage, {"inbound": r, "message": r.message}) for r in rows
        )
    return stored, matched


def _rematch_orphans(names: list[str], window_days: int, result: PollResult) -> None:
    """Match reports that arrived before their message had its msgid (the send's
    transaction had not committed yet), or for messages stored since."""
    since = timezone.now() - dt.timedelta(days=window_days)
    orphans = list(
        Report.objects.filter(message__isnull=True, received_at__gte=since, account__in=names)
        .exclude(msgid="")
        .order_by("pk")[:ORPHAN_LIMIT]
    )
    if not orphans:
        return
    now = timezone.now()
    recovered = recovery.Recovered()
    for _, chunk in _chunks(orphans):
        by_key = _messages_by_key({r.msgid for r in chunk}, names)
        by_key.update(_recover(chunk, by_key, names, now, recovered, _messages_by_key))
        found, changed = [], {}
        for report in chunk:
            message = by_key.get((report.msgid, report.mobile))
            if message is None:
                continue
            report.message, report.matched_at = message, now
            found.append(report)
            if apply_report(message, report.status, report.delivered, report.reported_at):
                changed[message.pk] = message
        if not found:
            continue
        with transaction.atomic():
            match = Message.objects.filter(
                msgid=OuterRef("msgid"), mobile=OuterRef("mobile"), account__in=names
            )
            Report.objects.filter(pk__in=[r.pk for r in found]).update(
                message=Subquery(match.order_by("pk").values("pk")[:1]), matched_at=now
            )
            _write_statuses(changed)
            send_on_commit(
                (
                    report_matched,
                    Report,
                    {"report": r, "message": r.message, "delivered": r.delivered},
                )
                for r in found
            )
        result.rematched += len(found)
    result.requests_recovered += recovered.requests
    result.reports_ambiguous += recovered.ambiguous
