"""The poll journal: each raw answer as one row, written before it is parsed."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.db.models import QuerySet

from ..models import PollJournalEntry, PollState


def _journal(
    account: str, operation: str, body: bytes, fetched_at: dt.datetime, complete: bool
) -> PollJournalEntry:
    """Store a raw answer."""
    entry = PollJournalEntry(
        account=account, operation=operation, body=body, fetched_at=fetched_at, complete=complete
    )
    if connection.vendor != "postgresql" or len(body) < BINARY_JOURNAL_FROM:
        entry.save()
    else:
        _insert_binary(entry, body)
    return entry


def _insert_binary(entry: PollJournalEntry, body: bytes) -> None:
    """Insert ``entry`` on PostgreSQL with its body as a binary parameter: Django's
    client-side binding would write a 37 MB answer into the statement as 74 MB of hex."""
    import psycopg

    table = connection.ops.quote_name(PollJournalEntry._meta.db_table)
    fields = [f for f in PollJournalEntry._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join("%b" if f.attname == "body" else "%s" for f in fields)
    values = [
        body if f.attname == "body" else f.get_db_prep_save(getattr(entry, f.attname), connection)
        for f in fields
    ]
    connection.ensure_connection()
    # Django's own error classes, as for any other query: a refused insert must reach the
    # DatabaseError handler that keeps the answer on disk.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id",  # noqa: S608
            values,
        )
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False
    entry._state.db = connection.alias


#: From this many bytes a raw answer goes to PostgreSQL as a binary parameter.
BINARY_JOURNAL_FROM = 1 << 20


def _note_attempt(
    account: str, operation: str, at: dt.datetime, error: str = "", success: bool = False
) -> None:
    """Record a fetch in the health state; times only move forward, so that ingesting an
    old journal entry never makes polling look older than it is."""
    state, _ = PollState.objects.get_or_create(account=account, operation=operation)
    if state.last_attempt_at is None or at >= state.last_attempt_at:
        state.last_attempt_at = at
        state.last_error = error[:2000]
    if success and (state.last_success_at is None or at > state.last_success_at):
        state.last_success_at = at
    state.save()


def retry_set_aside(entries: QuerySet[PollJournalEntry]) -> int:
    """Give the set-aside entries among ``entries`` back to the poll: ``pending`` again,
    with their attempts counted from zero, so that the next poll ingests them (staff, from
    the admin, once the cause is fixed); returns how many."""
    return entries.filter(state=PollJournalEntry.State.SET_ASIDE).update(
        state=PollJournalEntry.State.PENDING, attempts=0
    )
