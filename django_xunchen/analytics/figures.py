"""The dimensional rollup: :class:`~django_xunchen.models.DeliveryFigure` and
:class:`~django_xunchen.models.FailureFigure`, per day, account, kind, template,
campaign, carrier and province.

They are kept with the daily figures, by the same rules
(:mod:`django_xunchen.operations.rollup`): a day is recounted, every table of it in
one transaction, when its :class:`~django_xunchen.models.RollupDay` is stale or
missing, and today up to its ``settled_until``. Reading (:func:`read`) never writes: the
stored figures of the days that are rolled up and fresh, and a live count of the rest
(today after ``settled_until``, and a day no poll has recounted since it changed),
added together in one statement per table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Coalesce, TruncDate

from ..models import DeliveryFigure, FailureFigure, Message, RollupDay
from ..models.analytics import STATUS_COLUMNS
from . import latency

S = Message.Status
#: The columns :func:`read` sums: a count per status, the parts, the latency buckets.
SUMMED = (*STATUS_COLUMNS, "parts", "billed_parts", *latency.COLUMNS)
#: The statuses whose failure has a code: the operator's report code of an undelivered
#: message, the gateway's error code of a failed one.
FAILED = (S.UNDELIVERED, S.FAILED)


def _delivery_counts() -> dict[str, Any]:
    """The rollup's columns counted from messages, each named ``sum_<column>`` (an
    annotation may not take the name of a field)."""
    counts: dict[str, Any] = {
        status: Count("id", filter=Q(status=status)) for status in STATUS_COLUMNS
    }
    counts["parts"] = Coalesce(Sum("parts"), 0)
    counts["billed_parts"] = Coalesce(Sum("parts", filter=Q(status__in=Message.BILLED)), 0)
    counts.update(latency.bucket_counts())
    return {f"sum_{name}": value for name, value in counts.items()}


def _code() -> Case:
    return Case(
        When(status=S.UNDELIVERED, then=F("report_status")),
        default=F("error_code"),
        output_field=CharField(),
    )


def _created(since: dt.datetime, before: dt.datetime) -> QuerySet[Message]:
    return Message.objects.filter(created_at__gte=since, created_at__lt=before)


# --------------------------------------------------------------------------- writing


def store(day_of: dict[dt.date, tuple[dt.datetime, dt.datetime]]) -> None:
    """Replace the figures of each day of ``day_of`` by those of its messages created
    within its ``(since, before)``; called inside the rollup's recount transaction,
    after it took the days' rows."""
    days = list(day_of)
    DeliveryFigure.objects.filter(day__in=days).delete()
    FailureFigure.objects.filter(day__in=days).delete()
    deliveries, failures = [], []
    for since, before in _spans(day_of.values()):
        rows = _created(since, before).annotate(day=TruncDate("created_at"))
        for row in (
            rows.values(
                "day", "account", "kind", "template_id", "campaign_id", "carrier", "province"
            )
            .annotate(**_delivery_counts())
            .order_by()
        ):
            if row["day"] in day_of:
                deliveries.append(
                    DeliveryFigure(**{k.removeprefix("sum_"): v for k, v in row.items()})
                )
        for row in (
            rows.filter(status__in=FAILED)
            .values("day", "account", "kind", "template_id", "campaign_id", "carrier", "status")
            .annotate(code=_code(), sum_messages=Count("id"))
            .order_by()
        ):
            if row["day"] in day_of:
                failures.append(
                    FailureFigure(**{k.removeprefix("sum_"): v for k, v in row.items()})
                )
    DeliveryFigure.objects.bulk_create(deliveries, batch_size=2000)
    FailureFigure.objects.bulk_create(failures, batch_size=2000)


def _spans(
    spans: Iterable[tuple[dt.datetime, dt.datetime]],
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``spans`` with touching ones joined: consecutive whole days count in one query."""
    joined: list[tuple[dt.datetime, dt.datetime]] = []
    for since, before in sorted(spans):
        if joined and joined[-1][1] == since:
            joined[-1] = (joined[-1][0], before)
        else:
            joined.append((since, before))
    return joined


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Filters:
    """What the analytics page narrows to; empty values do not narrow."""

    account: str = ""
    kind: str = ""
    template_id: int | None = None
    campaign_id: int | None = None

    def q(self) -> Q:
        q = Q()
        for name in ("account", "kind", "template_id", "campaign_id"):
            value = getattr(self, name)
            if value not in ("", None):
                q &= Q(**{name: value})
        return q


@dataclass
class Plan:
    """Where each day's figures come from: ``stored`` days read from the rollup,
    ``live`` spans counted from the messages."""

    stored: list[dt.date] = field(default_factory=list)
    live: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)


def plan(
    first: dt.date,
    last: dt.date,
    *,
    today: dt.date,
    cutoff: dt.datetime | None,
    start_of: Any,
) -> Plan:
    """Which days of ``first`` … ``last`` are rolled up and fresh (one query), and which
    spans must be counted live. ``cutoff``: today's ``settled_until``; ``start_of``: a
    day's first moment in the site's time zone."""
    result = Plan()
    rows = {r.day: r for r in RollupDay.objects.filter(day__gte=first, day__lte=last)}
    day = first
    while day <= last:
        row = rows.get(day)
        start, end = start_of(day), start_of(day + dt.timedelta(1))
        if row is not None and not row.stale and row.settled_until is None and day < today:
            result.stored.append(day)
        elif (
            day == today
            and cutoff is not None
            and row is not None
            and not row.stale
            and row.settled_until == cutoff
        ):
            result.stored.append(day)
            result.live.append((cutoff, end))
        else:
            result.live.append((start, end))
        day += dt.timedelta(1)
    result.live = _spans(result.live)
    return result


#: A grouping of :func:`read`: one or two dimensions (``day``, ``carrier``, ``code``…).
Grouping = tuple[str, ...]


def read(
    where: Plan,
    filters: Filters,
    groupings: dict[str, Grouping],
    *,
    failures: bool = False,
) -> dict[str, dict[tuple[str, ...], dict[str, int]]]:
    """The figures of ``where`` narrowed by ``filters``, summed per each grouping of
    ``groupings`` (name → dimensions): ``{name: {key: {column: sum}}}``, each key the
    dimensions' values as text (a day as ``YYYY-MM-DD``, an id as digits, ``""`` for
    none). One statement whatever the groupings: for each, the stored part and the live
    counts, joined by ``UNION ALL``. ``failures``: the FailureFigure table (dimensions
    ``code`` and ``status`` too; its one column is ``messages``)."""
    model = FailureFigure if failures else DeliveryFigure
    columns = ["messages"] if failures else list(SUMMED)
    sums = {f"sum_{c}": Sum(c) for c in columns}
    parts: list[QuerySet[Any]] = []
    for name, grouping in groupings.items():
        if where.stored:
            stored = model.objects.filter(filters.q(), day__in=where.stored)
            parts.append(_grouped(stored, name, grouping, {}).annotate(**sums).order_by())
        for since, before in where.live:
            live = _created(since, before).filter(filters.q())
            if failures:
                live = live.filter(status__in=FAILED)
            computed = {"day": TruncDate("created_at"), "code": _code()}
            counts = {"sum_messages": Count("id")} if failures else _delivery_counts()
            parts.append(_grouped(live, name, grouping, computed).annotate(**counts).order_by())
    if not parts:
        return {}
    query = parts[0].union(*parts[1:], all=True).order_by() if len(parts) > 1 else parts[0]
    result: dict[str, dict[tuple[str, ...], dict[str, int]]] = {n: {} for n in groupings}
    for row in query:
        if not any(row[f"sum_{column}"] for column in columns):
            continue  # an empty part grouped by constants alone still gives a row
        width = len(groupings[row["g_by"]])
        key = tuple(_text(row[k]) for k in ("g_a", "g_b")[:width])
        totals = result[row["g_by"]].setdefault(key, dict.fromkeys(columns, 0))
        for column in columns:
            totals[column] += int(row[f"sum_{column}"] or 0)
    return result


def _grouped(
    rows: QuerySet[Any], name: str, grouping: Grouping, computed: dict[str, Any]
) -> QuerySet[Any]:
    """``rows`` grouped by ``grouping``, as three text columns every part shares: the
    grouping's name and up to two dimensions. Every column is an annotation, named alike
    and in the same order, so that the SELECTs of a UNION line up."""
    keys = [Cast(computed.get(d, F(d)), CharField()) for d in grouping]
    keys += [Value("", output_field=CharField())] * (2 - len(keys))
    labelled = rows.annotate(g_by=Value(name, output_field=CharField()), g_a=keys[0], g_b=keys[1])
    return labelled.values("g_by", "g_a", "g_b")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


__all__ = ["Filters", "Grouping", "Plan", "plan", "read", "store"]
