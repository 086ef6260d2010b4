"""Searching message content by words, fast on PostgreSQL.

Django's admin turns a search for 退订 into ``UPPER(content) LIKE UPPER('%退订%')``, which
no B-tree index serves: at a million rows, a rare word takes a second. On PostgreSQL,
the character bigrams of each message's content sit in a table of their own,
``xunchen_message_bigrams``, under a GIN index (``xunchen_bigrams()`` and triggers on the
message table: migrations 0008 and 0011); :func:`content_contains` asks that index first
for the messages holding every bigram of the term, then checks the term itself on those
few rows. A term of one
character matches the bigrams it starts (the content is padded with a space, so its last
character has one too). Elsewhere it is the plain ``icontains``.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connections
from django.db.models import BooleanField, F, Func, QuerySet, Value


def bigram_query(term: str) -> str | None:
    """The tsquery of ``term``'s bigrams, or None where Python and PostgreSQL may not
    agree on its upper case (then only the LIKE is used)."""
    upper = term.upper()
    if not upper or len(upper) != len(term) or not upper.isprintable():
        return None
    if len(upper) == 1:
        return f"{_lexeme(upper)}:*"
    grams = dict.fromkeys(upper[i : i + 2] for i in range(len(upper) - 1))
    return " & ".join(_lexeme(gram) for gram in grams)


def _lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


#: The table of stored vectors, which no model declares: only PostgreSQL has it.
VECTORS = "xunchen_message_bigrams"


class BigramMatch(Func):
    """``id IN (SELECT message_id FROM xunchen_message_bigrams WHERE bigrams @@ query)``:
    served by the GIN index."""

    output_field = BooleanField()

    def __init__(self, query: str) -> None:
        super().__init__(F("pk"), Value(query))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        pk, query = self.get_source_expressions()
        pk_sql, pk_params = compiler.compile(pk)
        sql, params = compiler.compile(query)
        vectors = connection.ops.quote_name(VECTORS)
        vectors_sql = f"SELECT message_id FROM {vectors} WHERE bigrams @@ ({sql})::tsquery"  # noqa: S608 - compiled SQL
        return f"{pk_sql} IN ({vectors_sql})", [*pk_params, *params]


#: A term whose every bigram is in more than this share of the messages is searched
#: without the index: walking the newest messages finds a page of them at once, where
#: the index would first collect hundreds of thousands.
COMMON = 0.05
#: Seconds the index's statistics are kept in memory.
STATS_TTL = 600
_stats: dict[str, tuple[float, dict[str, float]]] = {}


def bigram_frequencies(alias: str) -> dict[str, float]:
    """The share of messages holding each of the commonest bigrams, from PostgreSQL's
    statistics of the stored vectors (gathered by ``ANALYZE`` and autovacuum)."""
    cached = _stats.get(alias)
    if cached and time.monotonic() - cached[0] < STATS_TTL:
        return cached[1]
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE tablename = %s AND attname = 'bigrams'",
            [VECTORS],
        )
        row = cursor.fetchone()
    frequencies: dict[str, float] = {}
    if row and row[0] and row[1]:
        elements, freqs = row
        frequencies = dict(zip(elements, freqs[: len(elements)], strict=True))
    _stats[alias] = (time.monotonic(), frequencies)
    return frequencies


def is_common(term: str, alias: str) -> bool:
    """Whether the statistics list every bigram of ``term`` in more than :data:`COMMON`
    of the messages (a single character: one bigram it starts). Unknown is rare."""
    upper = term.upper()
    frequencies = bigram_frequencies(alias)
    if len(upper) == 1:
        starting = [f for gram, f in frequencies.items() if gram.startswith(upper)]
        return max(starting, default=0.0) > COMMON
    grams = {upper[i : i + 2] for i in range(len(upper) - 1)}
    return all(frequencies.get(gram, 0.0) > COMMON for gram in grams)


def content_contains(queryset: QuerySet, term: str) -> QuerySet:
    """``queryset`` narrowed to the messages whose content contains ``term`` (any case)."""
    narrowed = queryset.filter(content__icontains=term)
    query = bigram_query(term)
    if query is None or connections[queryset.db].vendor != "postgresql":
        return narrowed
    if is_common(term, queryset.db):
        return narrowed
    return narrowed.filter(BigramMatch(query))
