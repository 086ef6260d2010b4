"""The analytics page's charts, as SVG drawn on the server: nothing is fetched from a
CDN, and the page works without JavaScript."""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from . import latency
from .report import Row

WIDTH = 900
LABEL_W, BAR_H, GAP = 150, 16, 6
GOOD, BAD, PENDING = "#198754", "#dc3545", "#adb5bd"


def _svg(height: float, label: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}" style="width:100%;max-width:{}px">{}</svg>',
        WIDTH,
        f"{height:.0f}",
        label,
        WIDTH,
        body,
    )


def rates(rows: Sequence[Row], label: str) -> SafeString:
    """A horizontal bar per row: its messages with an outcome, split into delivered and
    not, the rate written beside it, and the longest bar the row with most of them."""
    peak = max([r.settled for r in rows] + [1])
    plot_w = WIDTH - LABEL_W - 120
    parts = []
    for i, row in enumerate(rows):
        y = i * (BAR_H + GAP) + GAP
        settled = row.settled
        whole = plot_w * settled / peak
        good = whole * (row.delivered / settled) if settled else 0
        shown = "—" if row.rate is None else f"{row.rate * 100:.1f}%"
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}: {} {}</title></rect>"
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}">'
                "<title>{}: {} {}</title></rect>"
                '<text x="{}" y="{}" font-size="12">{} ({})</text>',
                LABEL_W - 6,
                f"{y + BAR_H - 4:.0f}",
                row.label,
                LABEL_W,
                f"{y:.0f}",
                f"{good:.1f}",
                BAR_H,
                GOOD,
                row.label,
                row.delivered,
                _("delivered"),
                f"{LABEL_W + good:.1f}",
                f"{y:.0f}",
                f"{whole - good:.1f}",
                BAR_H,
                BAD,
                row.label,
                settled - row.delivered,
                _("not delivered"),
                f"{LABEL_W + whole + 6:.1f}",
                f"{y + BAR_H - 4:.0f}",
                shown,
                settled,
            )
        )
    height = max(len(rows), 1) * (BAR_H + GAP) + GAP
    return _svg(height, label, format_html_join("", "{}", ((p,) for p in parts)))


#: The lines of the latency chart: percentile, colour.
LINES = ((0.5, "#0d6efd"), (0.9, "#fd7e14"), (0.99, "#dc3545"))


def latencies(days: Sequence[Row]) -> SafeString:
    """p50, p90 and p99 of the report latency per day, on a logarithmic scale of seconds
    (the buckets' bounds: 5 s … a day)."""
    height, left, bottom, top = 240, 60, 26, 10
    plot_w, plot_h = WIDTH - left - 10, height - bottom - top
    low, high = math.log(latency.BOUNDS[0]), math.log(latency.OVER)

    def y_of(seconds: int) -> float:
        return top + plot_h * (1 - (math.log(seconds) - low) / (high - low))

    slot = plot_w / max(len(days), 1)
    parts = []
    for seconds in (5, 60, 600, 3600, 86400):
        parts.append(
            format_html(
                '<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#dee2e6"/>'
                '<text x="{3}" y="{4}" font-size="10" text-anchor="end">{5}</text>',
                left,
                f"{y_of(seconds):.1f}",
                WIDTH - 10,
                left - 4,
                f"{y_of(seconds) + 3:.1f}",
                latency.label(seconds).replace("≤ ", ""),
            )
        )
    for fraction, colour in LINES:
        points = []
        for i, day in enumerate(days):
            value = day.percentile(fraction)
            if value is not None:
                points.append((left + i * slot + slot / 2, y_of(value), day.key, value))
        if len(points) > 1:
            parts.append(
                format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>',
                    " ".join(f"{x:.1f},{y:.1f}" for x, y, _d, _v in points),
                    colour,
                )
            )
        for x, y, day_key, value in points:
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{} p{}: {}</title></circle>',
                    f"{x:.1f}",
                    f"{y:.1f}",
                    colour,
                    day_key,
                    round(fraction * 100),
                    latency.label(value),
                )
            )
    for i, day in enumerate(days):
        if i % max(1, len(days) // 10) == 0:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
                    f"{left + i * slot + slot / 2:.1f}",
                    height - 8,
                    day.key[5:],
                )
            )
    return _svg(
        height, _("Report latency per day"), format_html_join("", "{}", ((p,) for p in parts))
    )
