"""Content search: the same answers as icontains, from the bigram index on PostgreSQL."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import send_sms
from django_xunchen.models import Message
from django_xunchen.search import bigram_query, content_contains
from django_xunchen.sending.bulk import COPY_FROM

DUMMY = "django_xunchen.backends.dummy.SMSBackend"

CONTENTS = [
    "【商城】春季上新活动，全场八折。回T退订",
    "您的快递已到，请凭取件码 8848 领取。",
    "退款已原路返回",
    "Hello World, it's 100% done\\now",
    "订",
    "",
]
TERMS = [
    "退订",
    "退",
    "订",
    "快递",
    "春季上新活动",
    "HELLO",
    "o w",
    "it's",
    "%",
    "\\n",
    "8848",
    "不存在",
]


@pytest.mark.parametrize(
    ("term", "query"),
    [
        ("退订", "'退订'"),
        ("退", "'退':*"),
        ("上新活动", "'上新' & '新活' & '活动'"),
        ("aaa", "'AA'"),
        ("it's", "'IT' & 'T''' & '''S'"),
        ("a\\b", "'A\\\\' & '\\\\B'"),
        ("ß", None),
    ],
)
def test_a_term_becomes_the_query_of_its_bigrams(term, query):
    assert bigram_query(term) == query


@pytest.fixture
def messages(db):
    Message.objects.bulk_create(
        [Message(mobile=f"1380000000{i}", content=c, status="sent") for i, c in enumerate(CONTENTS)]
    )


@pytest.mark.parametrize("term", TERMS)
def test_it_finds_what_icontains_finds(messages, term):
    expected = set(Message.objects.filter(content__icontains=term).values_list("pk", flat=True))
    found = set(content_contains(Message.objects.all(), term).values_list("pk", flat=True))
    assert found == expected


@pytest.mark.postgres_only
@pytest.mark.parametrize("term", ["退订", "退", "春季上新活动"])
def test_on_postgresql_the_bigram_index_serves_the_search(messages, term, monkeypatch):
    from django_xunchen import search

    monkeypatch.setattr(search, "is_common", lambda queryset, term: False)
    with connection.cursor() as cursor:  # a tiny table: make the planner use an index
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
    plan = content_contains(Message.objects.order_by(), term).explain()
    assert "xunchen_bigrams_gin" in plan, plan


def stored_bigrams(pk):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bigrams::text FROM xunchen_message_bigrams WHERE message_id = %s", [pk]
        )
        row = cursor.fetchone()
        return row and row[0]


def vectors_out_of_step():
    """Messages without their right vector, and vectors without their message."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM django_xunchen_message AS m FULL JOIN "
            "xunchen_message_bigrams AS v ON v.message_id = m.id "
            "WHERE m.id IS NULL OR v.message_id IS NULL "
            "OR v.bigrams::text <> xunchen_bigrams(m.content)::text"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres_only
def test_the_database_stores_the_bigrams_whenever_the_content_is_written(messages):
    """Rows written by COPY, bulk_create, save() or update() get their vectors from the
    database, with nothing in the app to keep in step; deleted rows lose them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT xunchen_bigrams('回T退订')::text")
        assert cursor.fetchone()[0] == "'T退' '回T' '订 ' '退订'"
    assert vectors_out_of_step() == 0, "bulk_create"
    numbers = [f"1390000{i:04d}" for i in range(COPY_FROM)]
    copied = send_sms(numbers, "回T退订", backend=DUMMY)
    assert stored_bigrams(copied[-1].pk) == "'T退' '回T' '订 ' '退订'", "COPY"
    row = Message.objects.create(mobile="13800138000", content="回T退订")
    Message.objects.filter(pk=row.pk).update(status="sent")
    assert stored_bigrams(row.pk) == "'T退' '回T' '订 ' '退订'"
    Message.objects.filter(pk=row.pk).update(content="快递")
    assert stored_bigrams(row.pk) == "'快递' '递 '"
    row.refresh_from_db()
    row.content = "退款"
    row.save()
    assert stored_bigrams(row.pk) == "'款 ' '退款'"
    assert list(content_contains(Message.objects.filter(pk=row.pk), "退款")) == [row]
    assert vectors_out_of_step() == 0
    Message.objects.filter(pk__in=[row.pk, copied[0].pk]).delete()
    assert stored_bigrams(row.pk) is None
    assert vectors_out_of_step() == 0, "delete"


@pytest.mark.postgres_only
def test_a_status_change_leaves_the_vectors_alone(messages):
    """The point of their own table: a new version of a message row files nothing in the
    content index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE relname = 'xunchen_message_bigrams'"
        )
        (before,) = cursor.fetchone()
        Message.objects.update(status="sent", msgid="1", updated_at=timezone.now())
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE relname = 'xunchen_message_bigrams'"
        )
        assert cursor.fetchone()[0] == before


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_truncating_the_messages_empties_the_vectors():
    """Django's flush between transactional tests truncates the model tables only."""
    Message.objects.create(mobile="13800138000", content="回T退订")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE django_xunchen_message CASCADE")
        cursor.execute("SELECT count(*) FROM xunchen_message_bigrams")
        assert cursor.fetchone()[0] == 0


@pytest.mark.postgres_only
def test_on_postgresql_a_common_term_walks_the_newest_messages_instead(messages, monkeypatch):
    """The index would first collect every message holding it; the newest ones are found
    at once without it. The answers are the same."""
    from django_xunchen import search

    monkeypatch.setattr(search, "is_common", lambda queryset, term: term == "快递")
    common = str(content_contains(Message.objects.all(), "快递").query)
    rare = str(content_contains(Message.objects.all(), "退订").query)
    assert "xunchen_message_bigrams" not in common and "xunchen_message_bigrams" in rare
    assert content_contains(Message.objects.all(), "快递").count() == 1


def fill(contents):
    """``contents`` in a message table PostgreSQL never analysed (an ANALYZE in another
    test outlives its rollback)."""
    Message.objects.bulk_create(
        [Message(mobile="13800000000", content=c, status="sent") for c in contents]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE pg_class SET reltuples = -1 WHERE oid = %s::regclass",
                [Message._meta.db_table],
            )


@pytest.mark.parametrize(
    ("rows", "share"),
    [(500, None), (1000, 0.7746), (100_000, 0.0775), (1_000_000, 0.0245), (10**7, 0.0077)],
)
def test_the_common_share_falls_as_the_table_grows(rows, share):
    """Through the index a search costs every row holding the term; a walk's count stops
    after COUNTED of them. A small table always takes the index."""
    from django_xunchen import search

    if share is None:
        assert search.common_share(rows) >= 1
    else:
        assert search.common_share(rows) == pytest.approx(share, abs=0.0001)


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    ("term", "common"), [("快递", True), ("快", True), ("退款", False), ("款", False)]
)
def test_a_term_is_common_by_its_share_of_the_messages_themselves(db, monkeypatch, term, common):
    """No statistics needed (the table was never analysed), a one-character term as
    well as two."""
    from django_xunchen import search

    fill(["您的快递已到"] * 58 + ["退款"] * 2)
    monkeypatch.setattr(search, "common_share", lambda rows: 0.5 if rows == 60 else 1.0)
    # (60: a table never analysed is read whole, up to SAMPLE rows, and counted so)
    assert search.is_common(Message.objects.all(), term) is common


@pytest.mark.postgres_only
@pytest.mark.parametrize("term", ["100%", "a_b"])
def test_the_share_escapes_the_wildcards_of_the_term(db, monkeypatch, term):
    """One row in four holds the term; unescaped, it would match two."""
    from django_xunchen import search

    fill(["100% 到账", "100 到账", "a_b", "axb"])
    monkeypatch.setattr(search, "common_share", lambda rows: 0.3)
    assert not search.is_common(Message.objects.all(), term)
    monkeypatch.setattr(search, "common_share", lambda rows: 0.2)
    assert search.is_common(Message.objects.all(), term)


@pytest.mark.postgres_only
def test_a_large_table_is_sampled_not_read(db):
    """Past :data:`~django_xunchen.search.SAMPLE` rows (by the table's row count), the share
    comes from a random sample of pages: near the true share, from a part of the rows."""
    from django_xunchen import search

    fill(["您的快递已到" if i % 2 else "退款已原路返回" for i in range(12_000)])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Message._meta.db_table}")
    assert search.common_share(12_000) < 0.3
    with CaptureQueriesContext(connection) as queries:
        assert search.is_common(Message.objects.all(), "快递")
    assert len(queries) == 1, "one statement, the table's size and the sample"
    assert "TABLESAMPLE SYSTEM" in queries[0]["sql"]
    assert not search.is_common(Message.objects.all(), "不存在")


#: 0008's definition of the bigrams, as one expression, to compare with today's.
QUADRATIC_BIGRAMS = """
    SELECT array_to_tsvector(ARRAY(
        SELECT DISTINCT substr(padded, i, 2)
        FROM (SELECT upper(%s) || ' ' AS padded) AS p,
             generate_series(1, length(padded) - 1) AS i
    ))::text
"""
TRICKY = [
    "",
    "a",
    "aA",
    "abab a",
    "  ",
    "回T退订",
    "【商城】春季上新活动，全场八折。回T退订",
    "e\u0301 combining, ǅ titlecase, ß",
    "emoji 👍🏽 and \u200b zero width",
    "tab\tnew\nline\\back'quote",
    "退订" * 500,
]


@pytest.mark.postgres_only
@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_the_bigrams_are_those_the_index_was_built_with(db, text):
    """0009 rewrote the function; the vectors of 0008's index must not change."""
    with connection.cursor() as cursor:
        cursor.execute(QUADRATIC_BIGRAMS, [text])
        (before,) = cursor.fetchone()
        cursor.execute("SELECT xunchen_bigrams(%s)::text, xunchen_bigrams(NULL)", [text])
        assert cursor.fetchone() == (before, None)


@pytest.mark.postgres_only
def test_after_a_rare_word_the_others_are_checked_on_its_rows_alone(messages):
    """One sample and one id array for a search of three words, not one per word, with
    the answers of icontains."""
    terms = ["退订", "春季", "全场"]
    expected = Message.objects.all()
    for term in terms:
        expected = expected.filter(content__icontains=term)
    with CaptureQueriesContext(connection) as queries:
        found = list(content_contains(Message.objects.all(), *terms))
    assert found == list(expected) and len(found) == 1
    assert len(queries) == 2, [q["sql"] for q in queries]  # the sample, the search
    assert queries[1]["sql"].count("xunchen_message_bigrams") == 1
