"""Searching message content by words, fast on PostgreSQL.

Django's admin turns a search for 退订 into ``UPPER(content) LIKE UPPER('%退订%')``, which
no B-tree index serves: at a million rows, a rare word takes a second. On PostgreSQL,
the character bigrams of each message's content sit in a table of their own,
``xunchen_message_bigrams``, under a GIN index (``xunchen_bigrams()`` and triggers on the
message table: migrations 0008 and 0011); :func:`content_contains` asks that index first
for the messages holding every bigram of the term, then checks the term itself on those
few rows. A term of one
character matches the bigrams it starts (the content is padded with a space, so its last
character has one too). A common term (:func:`is_common`, by its share of a random
sample of the messages) is searched without the index instead: the newest messages hold
a page of it at once. Elsewhere it is the plain ``icontains``.
"""

from __future__ import annotations

import math
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
    """``id = ANY(ARRAY(SELECT message_id FROM xunchen_message_bigrams WHERE bigrams @@
    query))``: the GIN index finds the ids first, once (an InitPlan), and the messages are
    then read by their primary key. As ``id IN (SELECT …)`` the planner may start from
    the messages instead, trusting its guess that few contain the word (it has no
    statistics for ``UPPER(content) LIKE``), and scan them all: 0.65 s for a word in 1%
    of a million messages."""

    output_field = BooleanField()

    def __init__(self, query: str) -> None:
        super().__init__(F("pk"), Value(query))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        pk, query = self.get_source_expressions()
        pk_sql, pk_params = compiler.compile(pk)
        sql, params = compiler.compile(query)
        vectors = connection.ops.quote_name(VECTORS)
        vectors_sql = f"SELECT message_id FROM {vectors} WHERE bigrams @@ ({sql})::tsquery"  # noqa: S608 - compiled SQL
        return f"{pk_sql} = ANY(ARRAY({vectors_sql}))", [*pk_params, *params]


#: Rows a filtered admin list counts at most
#: (:attr:`django_xunchen.admin.pagination.LargeTablePaginator.cap`).
COUNTED = 10_000
#: What checking a row costs a walk of the messages, against fetching one through the
#: index (its vector's row, then the message by its key): about 1 to 16, measured on
#: PostgreSQL 15 at a million messages.
WALK_COST = 0.06
#: Messages sampled to tell a common term from a rare one.
SAMPLE = 2000


def common_share(rows: float) -> float:
    """The share above which a term is searched by walking the messages, in a table of
    ``rows`` rows. Through the index a search costs every message holding the term,
    ``share * rows`` fetches; a walk finds the newest page at once, and its count (which
    stops at :data:`COUNTED`) reads ``COUNTED / share`` rows. They cost the same at
    ``share = sqrt(WALK_COST * COUNTED / rows)``: 2.4% at a million messages, 0.8% at ten
    million; a small table is always searched through the index."""
    return math.sqrt(WALK_COST * COUNTED / rows) if rows > 0 else math.inf


def is_common(queryset: QuerySet, term: str) -> bool:
    """Whether ``term`` is in more than :func:`common_share` of the messages, by its share
    in a random sample of about :data:`SAMPLE` of them.

    ``TABLESAMPLE SYSTEM`` takes whole pages at random, so the sample costs a few dozen
    page reads whatever the size of the table, and the same pages on every request
    (``REPEATABLE``): paging through the results keeps one plan. The share is measured
    on the messages themselves: the planner's statistics list only the commonest bigrams
    of their own sample, are missing until the first ``ANALYZE``, and say nothing of a
    one-character term.
    """
    connection = connections[queryset.db]
    meta = queryset.model._meta
    table = connection.ops.quote_name(meta.db_table)
    column = connection.ops.quote_name(meta.get_field("content").column)
    size = "(SELECT reltuples FROM pg_class WHERE oid = %s::regclass)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {size}, count(*) FILTER (WHERE UPPER({column}) LIKE UPPER(%s)), count(*) "  # noqa: S608 - quoted names
            f"FROM (SELECT {column} FROM {table} TABLESAMPLE SYSTEM "
            f"((SELECT LEAST(100, 100.0 * %s / GREATEST(reltuples, 1)) FROM {size} AS t)) "
            "REPEATABLE (0) LIMIT %s) AS sample",
            [
                meta.db_table,
                f"%{connection.ops.prep_for_like_query(term)}%",
                SAMPLE,
                meta.db_table,
                SAMPLE,
            ],
        )
        rows, holding, sampled = cursor.fetchone()
    if rows is None or rows < 0:  # never analysed: the whole table was read up to SAMPLE
        rows = sampled
    return bool(sampled) and holding / sampled > common_share(rows)


def content_contains(queryset: QuerySet, *terms: str) -> QuerySet:
    """``queryset`` narrowed to the messages whose content contains every one of
    ``terms`` (any case). The first term that is not common goes through the index; the
    rows it finds are few, so the terms after it are only checked on them (neither
    sampled nor looked up again)."""
    for term in terms:
        queryset = queryset.filter(content__icontains=term)
    if connections[queryset.db].vendor != "postgresql":
        return queryset
    for term in terms:
        query = bigram_query(term)
        if query is not None and not is_common(queryset, term):
            return queryset.filter(BigramMatch(query))
    return queryset
