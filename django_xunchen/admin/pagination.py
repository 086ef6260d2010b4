"""A paginator that does not count millions of rows to draw page links."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

#: Above this many rows (by the planner's estimate) an unfiltered list shows the estimate.
ESTIMATE_ABOVE = 100_000


class LargeTablePaginator(Paginator):
    """Exact counts, except for an unfiltered PostgreSQL table the planner estimates at more
    than :data:`ESTIMATE_ABOVE` rows, where ``COUNT(*)`` would scan it all for a number
    nobody needs exactly."""

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.distinct:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [queryset.model._meta.db_table],
                    )
                    row = cursor.fetchone()
                if row and row[0] > ESTIMATE_ABOVE:
                    return int(row[0])
        return super().count
