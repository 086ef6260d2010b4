"""The analytics page's figures: delivery by carrier and province, the top failure codes,
report latency over time, and spend by account, kind, campaign and month. Everything
comes from the dimensional rollup (:mod:`.figures`) in two statements, whatever the
number of messages; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from ..conf import account_names
from ..models import Campaign, Message
from ..operations import rollup
from ..policy.pricing import price_per_part
from . import codes, figures, latency, numbers

S = Message.Status
#: The statuses a delivery rate is taken over: every message tried whose outcome is
#: settled. Left out: those still waiting for their report (sent) and those never tried
#: (queued, suppressed, cancelled, expired).
SETTLED = (S.DELIVERED, S.UNDELIVERED, S.FAILED, S.UNKNOWN)
#: The longest range the page reads at once.
MAX_DAYS = 366
#: Failure codes shown.
TOP_CODES = 15
GROUPINGS: dict[str, figures.Grouping] = {
    "carrier": ("carrier",),
    "province": ("province",),
    "day": ("account", "day"),
    "kind": ("account", "kind"),
    "campaign": ("account", "campaign_id"),
}


def rate(counts: dict[str, int]) -> float | None:
    """The delivery rate: delivered ÷ (delivered + undelivered + failed + unknown), or
    None while there is none of them."""
    settled = sum(counts.get(status, 0) for status in SETTLED)
    return counts.get(S.DELIVERED, 0) / settled if settled else None


@dataclass(frozen=True)
class Query:
    """The days (both included) and the filters of one view of the page."""

    first: dt.date
    last: dt.date
    filters: figures.Filters = field(default_factory=figures.Filters)


@dataclass
class Row:
    """One line of a table: its label, its messages per status, parts and latency."""

    key: str
    label: str
    counts: dict[str, int] = field(default_factory=dict)
    cost: Decimal | None = None

    @property
    def messages(self) -> int:
        return sum(self.counts.get(status, 0) for status in S.values)

    @property
    def delivered(self) -> int:
        return self.counts.get(S.DELIVERED, 0)

    @property
    def settled(self) -> int:
        return sum(self.counts.get(status, 0) for status in SETTLED)

    @property
    def rate(self) -> float | None:
        return rate(self.counts)

    @property
    def rate_label(self) -> str:
        return "—" if self.rate is None else f"{self.rate * 100:.1f}%"

    @property
    def p90_label(self) -> str:
        return latency.label(self.percentile(0.9))

    @property
    def histogram(self) -> list[int]:
        return [self.counts.get(column, 0) for column in latency.COLUMNS]

    def percentile(self, fraction: float) -> int | None:
        return latency.percentile(self.histogram, fraction)

    @property
    def billed_parts(self) -> int:
        return self.counts.get("billed_parts", 0)


@dataclass
class Analytics:
    query: Query
    total: Row
    carriers: list[Row]
    provinces: list[Row]
    days: list[Row]
    failures: list[dict[str, Any]]
    by_account: list[Row]
    by_kind: list[Row]
    by_campaign: list[Row]
    by_month: list[Row]
    campaigns: dict[int, str]


def build(query: Query) -> Analytics:
    """Every table of the page for ``query``: a read of the rollup days (one query), the
    rollup's figures (one), its failures (one) and the campaigns' names (one)."""
    where = figures.plan(
        query.first,
        query.last,
        today=rollup.today(),
        cutoff=rollup.settled_until(),
        start_of=rollup.start_of,
    )
    found = figures.read(where, query.filters, GROUPINGS)
    failed = figures.read(where, query.filters, {"code": ("code", "status")}, failures=True)
    prices = _prices()
    by_day = found.get("day", {})
    accounts = _sum(by_day, lambda key: key[0])
    campaign_ids = {int(key[1]) for key in found.get("campaign", {}) if key[1]}
    if query.filters.campaign_id:
        campaign_ids.add(query.filters.campaign_id)
    names = dict(Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name"))
    total = Row("", _("All"), _add(accounts.values()))
    total.cost = _cost_of(by_day.items(), prices)
    return Analytics(
        query=query,
        total=total,
        carriers=_rows(found.get("carrier", {}), numbers.carrier_label),
        provinces=_rows(found.get("province", {}), numbers.province_label),
        days=_days(query, by_day),
        failures=_failures(failed.get("code", {}), total.messages),
        by_account=[
            Row(name, name, counts, _cost(name, counts, prices))
            for name, counts in sorted(accounts.items())
        ],
        by_kind=_spend(found.get("kind", {}), prices, _kind_label),
        by_campaign=_spend(
            found.get("campaign", {}),
            prices,
            lambda key: names.get(int(key), f"#{key}") if key else _("No campaign"),
        ),
        by_month=_spend(_months(by_day), prices, str, newest_first=True),
        campaigns=names,
    )


def _prices() -> dict[str, Decimal]:
    """Each configured account's price; an account only the rows name has none."""
    return {name: price_per_part(name) for name in account_names()}


def _cost(account: str, counts: dict[str, int], prices: dict[str, Decimal]) -> Decimal | None:
    """What ``counts`` cost at ``account``'s price; None for an account no longer
    configured (its price is unknown)."""
    price = prices.get(account)
    return None if price is None else price * counts.get("billed_parts", 0)


def _cost_of(
    items: Iterable[tuple[tuple[str, ...], dict[str, int]]], prices: dict[str, Decimal]
) -> Decimal | None:
    total = Decimal(0)
    for key, counts in items:
        cost = _cost(key[0], counts, prices)
        if cost is None:
            return None
        total += cost
    return total


def _add(many: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in many:
        for column, value in counts.items():
            total[column] = total.get(column, 0) + value
    return total


def _sum(grouped: dict[tuple[str, ...], dict[str, int]], by) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for key, counts in grouped.items():
        result[by(key)] = _add([result.get(by(key), {}), counts])
    return result


def _rows(grouped: dict[tuple[str, ...], dict[str, int]], label) -> list[Row]:
    rows = [Row(key[0], label(key[0]), counts) for key, counts in grouped.items()]
    return sorted(rows, key=lambda r: (-r.messages, r.key))


def _days(query: Query, by_day: dict[tuple[str, ...], dict[str, int]]) -> list[Row]:
    per_day = _sum(by_day, lambda key: key[1])
    days = []
    day = query.first
    while day <= query.last:
        iso = day.isoformat()
        days.append(Row(iso, iso, per_day.get(iso, {})))
        day += dt.timedelta(1)
    return days


def _months(
    by_day: dict[tuple[str, ...], dict[str, int]],
) -> dict[tuple[str, ...], dict[str, int]]:
    """``{(account, day): counts}`` summed to ``{(account, "YYYY-MM"): counts}``."""
    result: dict[tuple[str, ...], dict[str, int]] = {}
    for (account, day), counts in by_day.items():
        month = (account, day[:7])
        result[month] = _add([result.get(month, {}), counts])
    return result


def _spend(
    grouped: dict[tuple[str, ...], dict[str, int]],
    prices: dict[str, Decimal],
    label,
    *,
    newest_first: bool = False,
) -> list[Row]:
    """Rows per the second dimension of ``grouped`` (its first is the account, for the
    price), with their cost."""
    rows: dict[str, Row] = {}
    for (account, key), counts in grouped.items():
        row = rows.setdefault(key, Row(key, label(key), {}, Decimal(0)))
        row.counts = _add([row.counts, counts])
        cost = _cost(account, counts, prices)
        row.cost = None if cost is None or row.cost is None else row.cost + cost
    ordered = sorted(rows.values(), key=lambda r: r.key, reverse=newest_first)
    if not newest_first:
        ordered.sort(key=lambda r: -(r.billed_parts or 0))
    return ordered


def _kind_label(kind: str) -> str:
    return str(Message.Kind(kind).label) if kind in Message.Kind.values else kind


def _failures(grouped: dict[tuple[str, ...], dict[str, int]], total: int) -> list[dict[str, Any]]:
    rows = [
        {
            "code": code or "—",
            "status": status,
            "status_label": S(status).label if status in S.values else status,
            "meaning": codes.meaning(code, status),
            "messages": counts["messages"],
            "share": counts["messages"] / total if total else None,
        }
        for (code, status), counts in grouped.items()
    ]
    rows.sort(key=lambda r: (-r["messages"], r["code"]))
    return rows[:TOP_CODES]
