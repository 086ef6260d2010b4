"""Report latency: from a message's submission to the time of its delivery report.

The rollup keeps, per group of messages, how many reports came within each of
:data:`BOUNDS` (a histogram), so that percentiles of any set of days, accounts or
carriers are summed from it instead of from the messages. A percentile read from the
histogram is the upper bound of the bucket it falls in: "p90 ≤ 60 s" (linear
interpolation within a bucket would claim a precision the buckets do not have).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db.models import Count, Q

#: Upper bounds of the buckets, in seconds; the last bucket is everything above.
BOUNDS: tuple[int, ...] = (5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400)
#: What a percentile in the last bucket reads as: more than the last bound.
OVER = BOUNDS[-1] + 1
#: The rollup's column of each bucket: latency_0 … latency_14.
COLUMNS: tuple[str, ...] = tuple(f"latency_{i}" for i in range(len(BOUNDS) + 1))


def bucket_counts(field: str = "latency") -> dict[str, Count]:
    """One conditional count per bucket, for ``.aggregate()`` or ``.annotate()``."""
    counts = {}
    lower = None
    for column, bound in zip(COLUMNS, (*BOUNDS, None), strict=True):
        condition = Q(**{f"{field}__isnull": False})
        if lower is not None:
            condition &= Q(**{f"{field}__gte": dt.timedelta(seconds=lower)})
        if bound is not None:
            condition &= Q(**{f"{field}__lt": dt.timedelta(seconds=bound)})
        counts[column] = Count("id", filter=condition)
        lower = bound
    return counts


def bucket_of(seconds: float) -> int:
    """The index of the bucket ``seconds`` falls in."""
    for index, bound in enumerate(BOUNDS):
        if seconds < bound:
            return index
    return len(BOUNDS)


def percentile(histogram: Sequence[int], fraction: float) -> int | None:
    """The upper bound, in seconds, of the bucket where ``fraction`` (0.9 for p90) of the
    reports have come; ``None`` without reports, :data:`OVER` in the last bucket (more
    than a day)."""
    total = sum(histogram)
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= wanted:
            return BOUNDS[index] if index < len(BOUNDS) else OVER
    return OVER


def label(seconds: int | None) -> str:
    """A percentile as people read it: "≤ 30 s", "≤ 2 min", "≤ 6 h", or "—"."""
    if seconds is None:
        return "—"
    if seconds >= OVER:
        return f"> {BOUNDS[-1] // 3600} h"
    if seconds < 60:
        return f"≤ {seconds} s"
    if seconds < 3600:
        return f"≤ {seconds // 60} min"
    return f"≤ {seconds // 3600} h"
