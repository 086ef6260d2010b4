"""Writing many Message rows at once.

On PostgreSQL a large send is written with ``COPY``: the ids come from the table's
sequence in one query, and psycopg adapts the values in C, instead of the ORM preparing
every field of every row in Python (28 fields × 10,000 rows). Elsewhere, and for small
sends, it is ``bulk_create``. Either way the rows come back saved, with their ids.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import JSONField
from django.utils import timezone

from .models import Message

#: Below this many rows bulk_create is as fast and simpler.
COPY_FROM = 1000


def insert_messages(rows: Sequence[Message]) -> None:
    """Insert unsaved ``rows`` (inside the caller's transaction) and set their ids."""
    if connection.vendor != "postgresql" or len(rows) < COPY_FROM:
        Message.objects.bulk_create(rows)
        return
    from psycopg.types.json import Jsonb

    meta = Message._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(
            connection.ops.quote_name(c) for c in [meta.pk.column] + [f.column for f in fields]
        )
        table = connection.ops.quote_name(meta.db_table)
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                row.created_at = row.created_at or now
                row.updated_at = now
                values = [pk]
                for field in fields:
                    value = getattr(row, field.attname)
                    values.append(Jsonb(value) if isinstance(field, JSONField) else value)
                copy.write_row(values)
    for pk, row in zip(ids, rows, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = connection.alias
