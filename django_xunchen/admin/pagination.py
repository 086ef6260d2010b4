"""A paginator that does not count millions of rows to draw page links.

``COUNT(*)`` over a filter that matches 800,000 rows reads them all for a number nobody
needs exactly. Here a filtered list counts at most :attr:`LargeTablePaginator.cap` + 1
rows and says "more than 10000 messages" beyond; an unfiltered PostgreSQL table larger
than :data:`ESTIMATE_ABOVE` rows shows the planner's estimate, "about 1000000 messages".
Page links go as far as the count.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.translation import gettext

from ..db import estimated_rows
from ..search import COUNTED

#: Above this many rows (by the planner's estimate) an unfiltered list shows the estimate.
ESTIMATE_ABOVE = 100_000


class AtLeast(int):
    """A count that stopped at the cap: compares as the cap, shows "more than …"."""

    def __str__(self) -> str:
        return gettext("more than %(count)d") % {"count": int(self)}


class About(int):
    """The planner's estimate of a count."""

    def __str__(self) -> str:
        return gettext("about %(count)d") % {"count": int(self)}


def capped_count(queryset: Any, cap: int) -> int:
    """The rows of ``queryset`` counted no further than ``cap``: past it,
    :class:`AtLeast` ``cap``. Any ``cap`` + 1 rows will do, so the ordering is dropped."""
    counted = queryset.order_by()[: cap + 1].count()
    return AtLeast(cap) if counted > cap else counted


class LargeTablePaginator(Paginator):
    """Exact counts up to :attr:`cap`; beyond, :class:`AtLeast` the cap; and
    :class:`About` the estimate for an unfiltered PostgreSQL table of more than
    :data:`ESTIMATE_ABOVE` rows."""

    #: Rows counted at most in a filtered list.
    cap = COUNTED

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        query = getattr(queryset, "query", None)
        if query is None or query.is_sliced or query.distinct:
            return super().count
        if not query.where:
            estimate = self._estimate(queryset)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                return About(estimate)
        return capped_count(queryset, self.cap)

    @staticmethod
    def _estimate(queryset: Any) -> int | None:
        estimate = estimated_rows(queryset.model, queryset.db)
        return None if estimate is None else int(estimate)
