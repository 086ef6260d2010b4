"""Small database helpers the sending and polling paths share."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Model, Q
from django.db.models.expressions import RawSQL

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
