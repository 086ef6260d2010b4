"""PostgreSQL's planner statistics as a new install has them, for
tests/models/test_planner_statistics.py and the benchmark's ingest rows."""

from __future__ import annotations

from django.db import connection


def forget_statistics(*tables: str) -> None:
    """Make ``tables`` look as a new install's do after their first rows: no column
    statistics and no row count (``reltuples`` -1, as PostgreSQL 14+ leaves a table never
    vacuumed or analysed), for them and their indexes. Needs a superuser, as the tests'
    and the benchmark's databases have."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [table])
            cursor.execute(
                "UPDATE pg_class SET reltuples = -1, relpages = 0, relallvisible = 0 "
                "WHERE oid = %s::regclass "
                "OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass)",
                [table, table],
            )
