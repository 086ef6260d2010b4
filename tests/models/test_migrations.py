"""Upgrading a database with data in it: existing rows belong to the account "default"."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
APP = "django_xunchen"


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([(APP, target)])
    return executor.loader.project_state([(APP, target)]).apps


def test_existing_rows_move_to_the_default_account():
    old = migrate("0002_poll_health_and_salvage")
    try:
        now = timezone.now()
        old.get_model(APP, "Template").objects.create(template_id="T-1", name="t", body="@1@")
        old.get_model(APP, "Message").objects.create(mobile="13800138000", content="hi")
        old.get_model(APP, "PollState").objects.create(
            operation="queryReport", last_success_at=now, last_error="x"
        )
        old.get_model(APP, "PollJournalEntry").objects.create(
            operation="queryMo", body=b"<x/>", fetched_at=now
        )
        new = migrate("0003_accounts_and_kinds")
        message = new.get_model(APP, "Message").objects.get()
        assert (message.account, message.kind, message.tags, message.metadata) == (
            "default",
            "notification",
            [],
            {},
        )
        assert new.get_model(APP, "Template").objects.get().account == "default"
        assert new.get_model(APP, "PollJournalEntry").objects.get().account == "default"
        state = new.get_model(APP, "PollState").objects.get()
        assert (state.account, state.operation, state.last_success_at, state.last_error) == (
            "default",
            "queryReport",
            now,
            "x",
        )
    finally:
        migrate(max_leaf())


def max_leaf():
    executor = MigrationExecutor(connection)
    return next(name for app, name in executor.loader.graph.leaf_nodes() if app == APP)


def indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'django_xunchen_message' "
            "AND indexdef LIKE '%%USING gin%%'"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.postgres_only
def test_rows_written_before_0010_get_their_stored_bigrams(monkeypatch):
    from importlib import import_module

    monkeypatch.setattr(import_module("django_xunchen.migrations.0010_stored_bigrams"), "BATCH", 2)
    old = migrate("0009_linear_bigrams")
    try:
        assert indexes() == {"xunchen_msg_content_bigrams"}
        Message = old.get_model(APP, "Message")
        texts = ["回T退订", "快递", "", "退款已原路返回", "春季上新"]
        Message.objects.bulk_create([Message(mobile="13800138000", content=t) for t in texts])
        migrate("0010_stored_bigrams")
        assert indexes() == {"xunchen_msg_bigrams"}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT content, content_bigrams::text = xunchen_bigrams(content)::text "
                "FROM django_xunchen_message ORDER BY id"
            )
            assert cursor.fetchall() == [(t, True) for t in texts]
        migrate("0009_linear_bigrams")
        assert indexes() == {"xunchen_msg_content_bigrams"}
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'django_xunchen_message' AND column_name = 'content_bigrams'"
            )
            assert cursor.fetchone()[0] == 0
    finally:
        migrate(max_leaf())


def relation_exists(name):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


@pytest.mark.postgres_only
def test_0011_moves_the_stored_bigrams_to_their_own_table_and_back(monkeypatch):
    from importlib import import_module

    step = import_module("django_xunchen.migrations.0011_bigrams_side_table")
    monkeypatch.setattr(step, "BATCH", 2)
    old = migrate("0010_stored_bigrams")
    try:
        Message = old.get_model(APP, "Message")
        texts = ["回T退订", "快递", "", "退款已原路返回", "春季上新"]
        Message.objects.bulk_create([Message(mobile="13800138000", content=t) for t in texts])
        with connection.cursor() as cursor:  # 0011 copies the stored vectors as they are
            cursor.execute(
                "UPDATE django_xunchen_message SET content_bigrams = 'copied'::tsvector "
                "WHERE content = '快递'"
            )
        migrate("0011_bigrams_side_table")
        assert indexes() == set()
        assert relation_exists("xunchen_bigrams_gin")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.content, v.bigrams::text, xunchen_bigrams(m.content)::text "
                "FROM django_xunchen_message AS m "
                "JOIN xunchen_message_bigrams AS v ON v.message_id = m.id ORDER BY m.id"
            )
            rows = cursor.fetchall()
        assert [content for content, _, _ in rows] == texts
        assert [stored for content, stored, _ in rows if content == "快递"] == ["'copied'"]
        assert all(stored == computed for c, stored, computed in rows if c != "快递")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_name = 'django_xunchen_message' AND column_name = 'content_bigrams'"
            )
            assert cursor.fetchone()[0] == 0
        # A migration that failed halfway is run again from its start: it must not trip
        # over what it made, nor miss what the first run left undone.
        with connection.cursor() as cursor:
            for sql in step.VECTORS_AND_TRIGGERS:
                cursor.execute(sql)
            cursor.execute("DELETE FROM xunchen_message_bigrams WHERE bigrams = 'copied'")
        step.copy_vectors(None, connection.schema_editor())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM django_xunchen_message AS m "
                "JOIN xunchen_message_bigrams AS v ON v.message_id = m.id "
                "WHERE v.bigrams = xunchen_bigrams(m.content)"
            )
            assert cursor.fetchone()[0] == len(texts)
        migrate("0010_stored_bigrams")
        assert indexes() == {"xunchen_msg_bigrams"}
        assert not relation_exists("xunchen_message_bigrams")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT content, content_bigrams::text = xunchen_bigrams(content)::text "
                "FROM django_xunchen_message ORDER BY id"
            )
            assert cursor.fetchall() == [(t, True) for t in texts]
    finally:
        migrate(max_leaf())


@pytest.mark.django_db(transaction=True, databases=["default", "other"])
# Migrating the app back and forth leaves its content types behind on "other", and
# 0003's rename then finds one in the way: Django warns, which has nothing to do with the
# data migrations this test is about.
@pytest.mark.filterwarnings("ignore:Could not rename content type:RuntimeWarning")
def test_a_second_database_alias_migrates_from_zero_with_its_data():
    """A host that keeps the SMS tables on another alias: every data migration reads and
    writes through the database being migrated, never through "default"."""
    from django.core.management import call_command
    from django.db import connections

    from django_xunchen.models import Message, PollState

    other = connections["other"]

    def migrate_other(target):
        executor = MigrationExecutor(other)
        executor.loader.build_graph()
        executor.migrate([(APP, target)])
        return executor.loader.project_state([(APP, target)]).apps

    from django.apps import apps

    others = {m._meta.db_table for m in apps.get_models() if m._meta.app_label != APP}

    def tables():
        """The app's tables (another app's, such as xunchen_otp's, stay)."""
        with other.cursor() as cursor:
            names = other.introspection.table_names(cursor)
        return [t for t in names if "xunchen" in t and t not in others]

    try:
        call_command("migrate", APP, "zero", database="other", verbosity=0)
        assert tables() == []
        old = migrate_other("0002_poll_health_and_salvage")
        old.get_model(APP, "PollState").objects.using("other").create(
            operation="queryReport", last_error="kept on other"
        )
        old.get_model(APP, "Message").objects.using("other").create(
            mobile="13800138000", content="快递到了"
        )
        call_command("migrate", APP, database="other", verbosity=0)
        state = PollState.objects.using("other").get()
        assert (state.account, state.operation, state.last_error) == (
            "default",
            "queryReport",
            "kept on other",
        )
        assert not PollState.objects.exists(), "nothing was written to default"
        message = Message.objects.using("other").get()
        assert (message.account, message.kind, message.request) == ("default", "notification", None)
        if other.vendor == "postgresql":  # 0010 and 0011 filled the vectors on "other"
            with other.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM xunchen_message_bigrams")
                assert cursor.fetchone()[0] == 1
        call_command("migrate", APP, "zero", database="other", verbosity=0)
        assert tables() == []
    finally:
        call_command("migrate", APP, database="other", verbosity=0)
