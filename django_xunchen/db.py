"""Small database helpers the sending and polling paths share: long id lists, datetimes
as the database takes them (naive local time when ``USE_TZ`` is off), a retry for
SQLite's "database is locked", and planner statistics for tables filled in bulk."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Collection
from typing import Any, ParamSpec, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.db.models import BooleanField, CharField, Func, Model, Q
from django.db.models.expressions import RawSQL
from django.db.models.lookups import Exact, In
from django.utils import timezone

from .search import VECTORS

#: Lists longer than this go to PostgreSQL as one array parameter.
ARRAY_FROM = 20


def one_of(model: type[Model], field: str, values: Collection[Any]) -> Q | RawSQL:
    """A filter: ``field`` of ``model`` is one of ``values``.

    Django writes ``field IN (%s, %s, …)`` with one parameter per value, and psycopg then
    splits and adapts a statement of that size on every call: for the 100 ids of every
    request, or a send's 10,000 numbers, that costs more than the statement does at the
    server. On PostgreSQL a long list goes instead as one array: ``field = ANY(%s)``.
    """
    if connection.vendor != "postgresql" or len(values) < ARRAY_FROM:
        return Q(**{f"{field}__in": values})
    quote = connection.ops.quote_name
    column = f"{quote(model._meta.db_table)}.{quote(model._meta.get_field(field).column)}"
    return RawSQL(f"{column} = ANY(%s)", [list(values)], output_field=BooleanField())  # noqa: S611


class Unindexed(Func):
    """A text column's value in a form that no index covers (``column || ''``), for a
    condition that only checks rows found another way, by primary key.

    The planner's statistics can call a status rare just after a bulk write made it
    common (a send writes 10,000 ``queued`` rows): it would then take the status index
    as the way in and read every ``queued`` row to find the hundred named by id, for
    each request of the send."""

    template = "(%(expressions)s || '')"
    output_field = CharField()

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # MySQL reads || as OR unless PIPES_AS_CONCAT is set.
        return self.as_sql(compiler, connection, template="CONCAT(%(expressions)s, '')", **extra)


def status_is(*statuses: str) -> Exact | In:
    """A filter for rows named by id: their ``status`` is one of ``statuses``, checked on
    the rows the ids find, never used to find them (:class:`Unindexed`)."""
    if len(statuses) == 1:
        return Exact(Unindexed("status"), statuses[0])
    return In(Unindexed("status"), statuses)


def to_db_datetime(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as the database takes it (naive local time when USE_TZ=False)."""
    if value is None:
        return None
    if settings.USE_TZ:
        return value
    return timezone.make_naive(value, timezone.get_default_timezone())


def from_db_datetime(value: dt.datetime | None) -> dt.datetime | None:
    """A datetime read from the database, aware whatever ``USE_TZ`` says."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())


P = ParamSpec("P")
R = TypeVar("R")


def is_locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's refusal to wait longer for another writer."""
    return isinstance(error, OperationalError) and "is locked" in str(error)


def retry_when_locked(
    attempts: int = 4, wait: float = 0.25
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run the decorated function again, after ``wait`` seconds (doubling), when SQLite
    said "database is locked", up to ``attempts`` runs in all. The function must do its
    writes in a transaction of its own: it is retried only when called outside one (a
    transaction that failed cannot go on), and then it wrote nothing."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            delay = wait
            for _attempt in range(attempts - 1):
                try:
                    return func(*args, **kwargs)
                except OperationalError as exc:
                    if not is_locked(exc) or connection.in_atomic_block:
                        raise
                time.sleep(delay)
                delay *= 2
            return func(*args, **kwargs)

        return retried

    return decorate


#: Rows from which a table written in bulk may need its statistics at once.
ANALYZE_FROM = 10_000


def estimated_rows(model: type[Model], using: str = DEFAULT_DB_ALIAS) -> float | None:
    """PostgreSQL's estimate of the rows in ``model``'s table (``pg_class.reltuples``, as
    of the last ``ANALYZE`` or ``VACUUM``): -1 for a table never analysed, None on other
    databases."""
    db = connections[using]
    if db.vendor != "postgresql":
        return None
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [model._meta.db_table]
        )
        row = cursor.fetchone()
    return None if row is None else float(row[0])


def analyze_if_stale(model: type[Model], rows: int) -> bool:
    """On PostgreSQL, ``ANALYZE`` ``model``'s table when it holds (or is about to be
    matched against) at least ``rows`` rows, :data:`ANALYZE_FROM` or more, and its
    statistics count fewer than half of them; True when it did.

    That is a new install's table: never analysed, or analysed empty. Autovacuum gives it
    statistics too, but only after the transaction that filled it commits, and up to a
    minute later: a new install's first poll of 100,000 reports would otherwise be planned
    as if its tables were empty. ``ANALYZE`` samples the rows the caller's transaction has
    written but not committed, so the statements that follow in it benefit at once. Once
    a table has statistics, autovacuum keeps them (after every tenth of the table
    changed), and this does nothing.
    """
    if connection.vendor != "postgresql" or rows < ANALYZE_FROM:
        return False
    known = estimated_rows(model, connection.alias)
    if known is not None and known * 2 >= rows:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
    return True


def analyze_new_tables(
    sender: Any = None, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> list[str]:
    """``post_migrate``: on PostgreSQL, ``ANALYZE`` every table of the app that is not
    empty on disk and has never been analysed (a table a migration created and filled), so
    that it is planned on its real size from its first query; returns their names. The
    app's tables are its models' and the content search's vectors
    (:mod:`django_xunchen.search`)."""
    db = connections[using]
    if db.vendor != "postgresql":
        return []
    names = [m._meta.db_table for m in apps.get_app_config("django_xunchen").get_models()]
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE oid IN "
            "(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name) "
            "AND reltuples < 0 AND pg_relation_size(oid) > 0 ORDER BY relname",
            [[*names, VECTORS]],
        )
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            cursor.execute(f"ANALYZE {', '.join(db.ops.quote_name(t) for t in tables)}")
    return tables
