"""The delivery dashboard: counts per day for 30 days, the delivery rate, the balance.

The figures come from the daily rollup (:mod:`django_xunchen.operations.rollup`): the
stored days in one query, today counted live in another. The chart is server-rendered
SVG, so there is nothing to fetch from a CDN. The page itself is
:mod:`django_xunchen.admin.views.dashboard`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from ..analytics.report import SETTLED, rate
from ..api import get_balances
from ..conf import account_names
from ..models import Message
from ..operations import rollup
from ..policy.pricing import price_per_part
from .pagination import capped_count

DAYS = 30
S = Message.Status
SERIES = [
    (S.DELIVERED, "#198754"),
    (S.UNDELIVERED, "#fd7e14"),
    (S.SENT, "#0dcaf0"),
    (S.FAILED, "#dc3545"),
    (S.UNKNOWN, "#6f42c1"),
    (S.SUPPRESSED, "#795548"),
    (S.CANCELLED, "#343a40"),
]
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 900, 260, 44, 30, 10


def _window(days: int) -> tuple[dt.date, dt.date]:
    today = rollup.today()
    return today - dt.timedelta(days=days - 1), today


def _keep(key: tuple[str, str, str], account: str | None, kind: str | None) -> bool:
    return (not account or key[0] == account) and (not kind or key[1] == kind)


def daily_counts(
    days: int = DAYS,
    *,
    account: str | None = None,
    kind: str | None = None,
    figures: rollup.Figures | None = None,
) -> list[dict[str, Any]]:
    """Per day, oldest first: the messages per status, the total and the delivery rate."""
    start, end = _window(days)
    figures = rollup.figures(start, end) if figures is None else figures
    result = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        counts: dict[str, int] = {}
        for key, (messages, _parts) in figures.get(day, {}).items():
            if _keep(key, account, kind):
                counts[key[2]] = counts.get(key[2], 0) + messages
        entry: dict[str, Any] = {
            "day": day,
            **{status.value: counts.get(status.value, 0) for status, _ in SERIES},
        }
        entry["total"] = sum(counts.values())
        entry["cells"] = [entry[status.value] for status, _ in SERIES]
        entry["rate"] = rate(entry)
        result.append(entry)
    return result


BILLED = Message.BILLED


def spend(
    days: int = DAYS,
    *,
    account: str | None = None,
    kind: str | None = None,
    figures: rollup.Figures | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """What each account spent per day (billed parts × its price), newest day first:
    the account names, and per day its date, the amount per account and the total."""
    start, end = _window(days)
    figures = rollup.figures(start, end) if figures is None else figures
    names = account_names() if not account else [account]
    prices = {name: price_per_part(name) for name in account_names()}
    table: dict[dt.date, dict[str, Decimal]] = {}
    for day, rows in figures.items():
        if not start <= day <= end:
            continue
        for key, (_messages, parts) in rows.items():
            if key[2] not in BILLED or not _keep(key, account, kind) or not parts:
                continue
            if key[0] not in names:
                names = [*names, key[0]]
            cost = Decimal(parts) * prices.get(key[0], 0)
            amounts = table.setdefault(day, {})
            amounts[key[0]] = amounts.get(key[0], Decimal(0)) + cost
    result = []
    for day in sorted(table, reverse=True):
        amounts = [table[day].get(name, Decimal(0)) for name in names]
        result.append({"day": day, "amounts": amounts, "total": sum(amounts, Decimal(0))})
    return names, result


def chart(days: list[dict[str, Any]]) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    peak = max([sum(d[s.value] for s, _ in SERIES) for d in days] + [1])
    slot = plot_w / len(days)
    bar = slot * 0.7
    parts: list[SafeString] = []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        y = TOP + plot_h
        for status, colour in SERIES:
            n = day[status.value]
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                    "<title>{} {}: {}</title></rect>",
                    f"{x:.1f}",
                    f"{y:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    colour,
                    day["day"].isoformat(),
                    status.label,
                    n,
                )
            )
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
                    f"{x + bar / 2:.1f}",
                    HEIGHT - 10,
                    day["day"].strftime("%m-%d"),
                )
            )
    points = [
        f"{LEFT + i * slot + slot / 2:.1f},{TOP + plot_h * (1 - d['rate']):.1f}"
        for i, d in enumerate(days)
        if d["rate"] is not None
    ]
    if len(points) > 1:
        parts.append(
            format_html(
                '<polyline points="{}" fill="none" stroke="#212529" stroke-width="2">'
                "<title>{}</title></polyline>",
                " ".join(points),
                _("delivery rate"),
            )
        )
    for point, day in zip(points, [d for d in days if d["rate"] is not None], strict=True):
        x, y = point.split(",")
        parts.append(
            format_html(
                '<circle class="rate-point" cx="{}" cy="{}" r="3" fill="#212529">'
                "<title>{} {}: {}%</title></circle>",
                x,
                y,
                day["day"].isoformat(),
                _("delivery rate"),
                round(day["rate"] * 100),
            )
        )
    axis = format_html(
        '<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#999"/>'
        '<line x1="{0}" y1="{2}" x2="{3}" y2="{2}" stroke="#999"/>'
        '<text x="{4}" y="{5}" font-size="10" text-anchor="end">{6}</text>'
        '<text x="{4}" y="{2}" font-size="10" text-anchor="end">0</text>'
        '<text x="{3}" y="{5}" font-size="10" text-anchor="end">100%</text>',
        LEFT,
        TOP,
        TOP + plot_h,
        WIDTH - 10,
        LEFT - 4,
        TOP + 8,
        peak,
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}" style="width:100%;max-width:{}px">{}{}</svg>',
        WIDTH,
        HEIGHT,
        _("Messages per day"),
        WIDTH,
        axis,
        format_html_join("", "{}", ((p,) for p in parts)),
    )


#: The dashboard counts messages with no report any more up to this many.
OVERDUE_CAP = 1000


def build(
    *, can_check_balance: bool, account: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """The dashboard of every message, or of one account's, or of one kind's."""
    figures = rollup.figures(*_window(DAYS))
    days = daily_counts(account=account, kind=kind, figures=figures)
    overdue = Message.objects.report_overdue()
    if account:
        overdue = overdue.filter(account=account)
    if kind:
        overdue = overdue.filter(kind=kind)
    totals = {status.value: sum(d[status.value] for d in days) for status, _ in SERIES}
    context: dict[str, Any] = {
        "days": list(reversed(days)),
        "totals": totals,
        "total": sum(d["total"] for d in days),
        "delivery_rate": rate(totals),
        "settled": sum(totals[status] for status in SETTLED),
        "chart": chart(days),
        "series": [(status.value, status.label, colour) for status, colour in SERIES],
        "balances": [],
        "can_check_balance": can_check_balance,
        "report_overdue": capped_count(overdue, OVERDUE_CAP),
    }
    context["spend_accounts"], context["spend"] = spend(account=account, kind=kind, figures=figures)
    if can_check_balance:
        found = get_balances(only=account)
        context["balances"] = [
            {
                "account": name,
                "balance": None if isinstance(b, Exception) else b,
                "error": str(b) if isinstance(b, Exception) else None,
            }
            for name, b in found.items()
        ]
    return context
