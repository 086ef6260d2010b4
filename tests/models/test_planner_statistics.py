"""Tables filled in bulk are planned on their real size from the start: a new install is
not a special case (django_xunchen.db)."""

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from django.utils import timezone

from django_xunchen import db
from django_xunchen.models import BlockedWord, Message, Report
from django_xunchen.sending import bulk
from tests.planner import forget_statistics

pytestmark = pytest.mark.django_db
REPORTS = Report._meta.db_table
COLUMNS = ("account", "mobile", "msgid", "status", "delivered", "extno", "truncated")


def reltuples(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def add_reports(n: int) -> None:
    rows = [("default", f"135{i:08d}", f"m{i}", "DELIVRD", True, "", False) for i in range(n)]
    bulk.insert_values(Report, (*COLUMNS, "received_at"), [(*r, timezone.now()) for r in rows])


@pytest.mark.postgres_only
def test_after_migrate_a_table_filled_and_never_analysed_is_analysed():
    forget_statistics(REPORTS)
    with connection.cursor() as cursor:  # empty on disk too: other tests' rows leave pages
        cursor.execute(f"TRUNCATE {BlockedWord._meta.db_table}")
    forget_statistics(BlockedWord._meta.db_table)
    add_reports(50)
    emit_post_migrate_signal(0, False, "default")
    assert reltuples(REPORTS) == 50
    assert reltuples(BlockedWord._meta.db_table) == -1, "an empty table is left alone"
    assert db.analyze_new_tables(using="default") == [], "analysed once"


@pytest.mark.postgres_only
def test_a_bulk_write_analyses_a_table_whose_statistics_count_too_few_rows():
    forget_statistics(REPORTS)
    add_reports(db.ANALYZE_FROM)
    assert not db.analyze_if_stale(Report, db.ANALYZE_FROM - 1), "too few rows to matter"
    assert db.analyze_if_stale(Report, db.ANALYZE_FROM)
    assert reltuples(REPORTS) == db.ANALYZE_FROM
    assert not db.analyze_if_stale(Report, db.ANALYZE_FROM * 2), "statistics count half"
    assert db.analyze_if_stale(Report, db.ANALYZE_FROM * 2 + 1)


def test_below_the_threshold_and_on_sqlite_nothing_is_analysed():
    add_reports(10)
    assert not db.analyze_if_stale(Report, db.ANALYZE_FROM - 1)
    if connection.vendor != "postgresql":  # no statistics of the planner's to refresh
        assert db.analyze_new_tables(using="default") == []
        assert not db.analyze_if_stale(Report, 10**6)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_large_poll_on_a_new_install_analyses_both_tables_first(gateway, monkeypatch):
    """The poll's rule (:func:`~django_xunchen.db.analyze_if_stale`) at a size a test can
    send: 30 reports, with ANALYZE_FROM at 20."""
    from django_xunchen import poll, send_sms

    monkeypatch.setattr(db, "ANALYZE_FROM", 20)
    send_sms([f"1380013{i:04d}" for i in range(30)], "hello")
    forget_statistics(Message._meta.db_table)
    forget_statistics(REPORTS)
    assert poll().reports == 30
    assert reltuples(Message._meta.db_table) == 30
    assert reltuples(REPORTS) == 30


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_confirming_a_large_campaign_on_a_new_install_analyses_the_messages(monkeypatch):
    import io

    from django_xunchen import campaigns
    from django_xunchen.models import Campaign

    monkeypatch.setattr(db, "ANALYZE_FROM", 20)
    numbers = "\n".join(f"1390013{i:04d}" for i in range(30))
    draft = Campaign.objects.create(name="spring", kind="notification", content="会员日全场五折")
    campaign = campaigns.stage(draft, io.BytesIO(numbers.encode()), "a.csv")
    forget_statistics(Message._meta.db_table)
    assert campaigns.confirm(campaign) == 30
    assert reltuples(Message._meta.db_table) == 30
