"""Small database helpers the sending and polling paths share: long id lists, datetimes
as the database takes them (naive local time when ``USE_TZ`` is off), and a retry for
SQLite's "database is locked"."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Collection
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import BooleanField, Model, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

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
