"""Delivery reports: store them, match each to its message by msgid and account, move the
message's status forward, and send the report signals."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import DurationField, ExpressionWrapper, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import policy
from ..client.types import DeliveryReport
from ..db import analyze_if_stale, one_of, to_db_datetime
from ..models import Message, PollJournalEntry, Report
from ..operations import rollup
from ..outcomes import recovery
from ..sending import bulk
from ..signals import report_received, reports_received, send_robust_logged
from ..webhooks import events as webhook_events
from .rows import _chunks, _limits

logger = logging.getLogger("django_xunchen.polling")
Status = Message.Status


def apply_report(message: Message, status: str, delivered: bool, at: dt.datetime | None) -> bool:
    """Move ``message`` forward for a report, never backwards; True if it changed.

    A delivered message stays delivered; an undelivered one may still turn delivered
    (a later report for the same handset wins over an earlier failure).
    """
    if message.status not in Message.REPORTABLE:
        return False
    if not delivered and message.status == Status.UNDELIVERED:
        return False
    message.status = Status.DELIVERED if delivered else Status.UNDELIVERED
    message.report_status = status
    message.reported_at = at or timezone.now()
    submitted = message.submitted_at
    message.latency = message.reported_at - submitted if submitted is not None else None
    message.updated_at = timezone.now()
    return True


def _latency(reported_at: Any) -> ExpressionWrapper:
    """A message's report latency: from its submission to ``reported_at`` (an
    expression: the time of the report that moves it); none without a submission."""
    return ExpressionWrapper(reported_at - F("submitted_at"), output_field=DurationField())


def _write_statuses(changed: dict[int, Message]) -> None:
    """Store the statuses :func:`apply_report` set on ``changed``: one UPDATE per outcome,
    whatever the number of messages (``bulk_update`` builds a CASE per row and grows
    quadratically). The report code and time come from each message's first report of
    that outcome, the one :func:`apply_report` took: a message moved to an outcome has no
    earlier report of it, or it would have been in that state already."""
    now = timezone.now()
    rollup.touched(changed.values())
    for status, delivered in ((Status.DELIVERED, True), (Status.UNDELIVERED, False)):
        ids = [pk for pk, message in changed.items() if message.status == status]
        if not ids:
            continue
        first = Report.objects.filter(message=OuterRef("pk"), delivered=delivered).order_by("pk")
        webhook_events.record(webhook_events.MESSAGE_EVENTS[status], ids, now)
        Message.objects.filter(pk__in=ids).update(
            status=status,
            report_status=Subquery(first.values("status")[:1]),
            reported_at=(at := Coalesce(Subquery(first.values("reported_at")[:1]), Value(now))),
            latency=_latency(at),
            updated_at=now,
        )


def _messages_by_key(msgids: set[str], names: list[str]) -> dict[tuple[str, str], Message]:
    """The messages of one gateway account (``names``) with these msgids: a msgid is
    unique only within the account that gave it."""
    if not msgids:
        return {}
    found = Message.objects.filter(msgid__in=msgids, account__in=names)
    return {(m.msgid, m.mobile): m for m in found}


#: Reports stored and matched per statement.
INGEST_CHUNK = 5000
#: Reports per batch signal, and per query when the signals load them back.
SIGNAL_CHUNK = 1000
_REPORT_COLUMNS = (
    "account",
    "source_id",
    "position",
    "mobile",
    "msgid",
    "status",
    "delivered",
    "reported_at",
    "extno",
    "truncated",
    "received_at",
    "message_id",
    "matched_at",
)


def _store_reports(
    entry: PollJournalEntry,
    records: Sequence[DeliveryReport],
    names: list[str],
    recovered: recovery.Recovered | None = None,
) -> tuple[int, int]:
    """Store, match and apply ``records`` in set-based statements, a few per
    :data:`INGEST_CHUNK` reports, whatever their number: no Report or Message objects
    are built. The signals load the reports back after the commit, a chunk at a time.
    Reports whose msgid matches no message go through :mod:`.recovery` first
    (``recovered`` gets its counts)."""
    now = timezone.now()
    matched = 0
    undelivered: set[str] = set()
    limits = dict(_limits(Report))
    # A new install's first large poll: plan its statements on the tables' real sizes.
    analyze_if_stale(Message, len(records))
    for start, chunk in _chunks(records, INGEST_CHUNK):
        ids = _message_ids({r.msgid for r in chunk if r.msgid}, names)
        ids.update(_recover(chunk, ids, names, now, recovered, _message_ids))
        rows = []
        for offset, record in enumerate(chunk):
            message_id = ids.get((record.msgid, record.mobile))
            rows.append(_report_row(entry, start + offset, record, now, limits, message_id))
            if message_id is not None:
                matched += 1
            if not record.delivered:
                undelivered.add(record.mobile)
        bulk.insert_values(Report, _REPORT_COLUMNS, rows)
        if not start:
            analyze_if_stale(Report, len(records))
        _apply_reports(
            Report.objects.filter(
                source=entry,
                position__gte=start,
                position__lt=start + len(chunk),
                message__isnull=False,
            ),
            rows,
            now,
        )
    policy.apply_bounces(undelivered)
    if records:
        transaction.on_commit(functools.partial(_send_report_signals, entry.pk))
    return len(records), matched


def _recover(
    reports: Sequence[DeliveryReport] | Sequence[Report],
    known: dict[tuple[str, str], Any],
    names: list[str],
    now: dt.datetime,
    recovered: recovery.Recovered | None,
    look_up: Any,
) -> dict[tuple[str, str], Any]:
    """The keys of the messages whose lost request :func:`.recovery.recover` gave the
    msgid of some of ``reports``: only those whose msgid is on no message (``known``)
    go there. ``look_up`` finds the messages, as ``known`` was built."""
    on_messages = {msgid for msgid, _ in known}
    lost = [(r.msgid, r.mobile, r.reported_at) for r in reports if r.msgid not in on_messages]
    if not lost:
        return {}
    done = recovery.recover(lost, names, now)
    if recovered is not None:
        recovered.add(done)
    return look_up(done.msgids, names) if done.msgids else {}


def _message_ids(msgids: set[str], names: list[str]) -> dict[tuple[str, str], int]:
    """``(msgid, mobile) -> id`` of the messages of one gateway account with these
    msgids (the first, should two share both)."""
    if not msgids:
        return {}
    found = (
        Message.objects.filter(one_of(Message, "msgid", msgids), account__in=names)
        .order_by("-pk")
        .values_list("msgid", "mobile", "pk")
    )
    return {(msgid, mobile): pk for msgid, mobile, pk in found}


def _report_row(
    entry: PollJournalEntry,
    position: int,
    record: DeliveryReport,
    now: Any,
    limits: dict,
    message_id: int | None,
) -> tuple[Any, ...]:
    """The row of one report; a text longer than its column is cut and the row flagged
    (the journal entry keeps it whole), so that one odd record never fails the entry."""
    values = {
        "mobile": record.mobile,
        "msgid": record.msgid,
        "status": record.status,
        "extno": record.extno,
        "account": entry.account,
    }
    truncated = False
    for name, value in values.items():
        if len(value) > limits[name]:
            values[name], truncated = value[: limits[name]], True
    if truncated:
        logger.warning(
            "a delivery report from journal entry %s had a field longer than its column; "
            "stored cut and flagged",
            entry.pk,
        )
    return (
        values["account"],
        entry.pk,
        position,
        values["mobile"],
        values["msgid"],
        values["status"],
        record.delivered,
        to_db_datetime(record.reported_at),
        values["extno"],
        truncated,
        now,
        message_id,
        now if message_id is not None else None,
    )


def _apply_reports(matched: Any, rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """Move the messages of the ``matched`` reports (``rows``, as inserted) forward, as
    :func:`apply_report` does one by one: a delivered report wins; an undelivered one
    moves only a message that has no outcome yet. Each takes the code and time of its
    first report of the outcome it reaches (an earlier one of the same outcome would
    have moved it there already)."""
    reportable = Message.objects.filter(status__in=Message.REPORTABLE)
    rollup.touched_where(reportable.filter(pk__in=matched.values("message_id")))
    for status, delivered in ((Status.DELIVERED, True), (Status.UNDELIVERED, False)):
        targets = reportable.filter(pk__in=matched.filter(delivered=delivered).values("message_id"))
        if not delivered:
            targets = targets.exclude(status=Status.UNDELIVERED)
        if connection.vendor != "postgresql":
            event = webhook_events.MESSAGE_EVENTS[status]
            if webhook_events.subscribed(event):
                webhook_events.record(event, targets.values_list("pk", flat=True), now)
            first = Report.objects.filter(message=OuterRef("pk"), delivered=delivered)
            first = first.order_by("pk")
            targets.update(
                status=status,
                report_status=Subquery(first.values("status")[:1]),
                reported_at=(at := Coalesce(Subquery(first.values("reported_at")[:1]), Value(now))),
                latency=_latency(at),
                updated_at=now,
            )
            continue
        _update_from_firsts(status, delivered, rows, now)


def _update_from_firsts(
    status: str, delivered: bool, rows: list[tuple[Any, ...]], now: dt.datetime
) -> None:
    """PostgreSQL: one UPDATE joined to each message's first report of the outcome among
    ``rows``, passed as three arrays."""
    status_at, delivered_at, reported_at_at, message_at = (
        _REPORT_COLUMNS.index(c) for c in ("status", "delivered", "reported_at", "message_id")
    )
    firsts: dict[int, tuple[str, Any]] = {}
    for row in rows:
        if row[message_at] is not None and row[delivered_at] is delivered:
            firsts.setdefault(row[message_at], (row[status_at], row[reported_at_at] or now))
    if not firsts:
        return
    reportable = [s for s in Message.REPORTABLE if delivered or s != Status.UNDELIVERED]
    table = connection.ops.quote_name(Message._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS m SET status = %s, "  # noqa: S608 - a quoted table name
            "report_status = f.status, reported_at = f.at, latency = f.at - m.submitted_at, "
            "updated_at = %s "
            "FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) AS f(id, status, at) "
            # Unlike a request's hundred rows (db.status_is), the status may be the way
            # in here: a hash join with the reportable rows beat looking up each of a
            # poll's ids (100,000 reports: 14.5 s, against 16.6 s by primary key).
            "WHERE m.id = f.id AND m.status = ANY(%s) RETURNING m.id",
            [
                status,
                now,
                list(firsts),
                [code for code, _ in firsts.values()],
                [at for _, at in firsts.values()],
                reportable,
            ],
        )
        moved = [pk for (pk,) in cursor.fetchall()]
    webhook_events.record(webhook_events.MESSAGE_EVENTS[status], moved, now)


def _send_report_signals(entry_id: int) -> None:
    """After the commit: the stored reports of one journal entry, loaded a chunk at a
    time (only if anyone listens), as batches and one by one."""
    if not (reports_received.has_listeners(Report) or report_received.has_listeners(Report)):
        return
    after = -1
    while True:
        chunk = list(
            Report.objects.filter(source_id=entry_id, position__gt=after)
            .select_related("message")
            .order_by("position")[:SIGNAL_CHUNK]
        )
        if not chunk:
            return
        after = chunk[-1].position
        send_robust_logged(reports_received, Report, reports=chunk)
        for report in chunk:
            send_robust_logged(
                report_received,
                Report,
                report=report,
                message=report.message,
                delivered=report.delivered,
            )
