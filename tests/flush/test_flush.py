"""The suite's own flush (tests/flush) leaves what Django's leaves: every table empty but
the content types and permissions, which are those migrate made."""

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection

from django_xunchen.models import Message

from .management.commands.flush import KEPT


def rows_per_table() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.django_table_names(only_existing=True):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


@pytest.mark.django_db(transaction=True)
def test_the_flush_empties_every_table_but_what_post_migrate_writes():
    kept = {t: n for t, n in rows_per_table().items() if t in KEPT}
    user = User.objects.create_user("someone")
    user.user_permissions.add(Permission.objects.first())
    Message.objects.create(mobile="13800138000", content="回T退订")
    call_command("flush", interactive=False, reset_sequences=False, verbosity=0)
    after = rows_per_table()
    assert {t: n for t, n in after.items() if t not in KEPT and n} == {}
    assert {t: n for t, n in after.items() if t in KEPT} == kept
    # Nothing is missing that post_migrate would have written back.
    permissions, types = Permission.objects.count(), ContentType.objects.count()
    emit_post_migrate_signal(0, False, "default")
    assert (Permission.objects.count(), ContentType.objects.count()) == (permissions, types)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_large_table_is_emptied_too():
    from django_xunchen.search import VECTORS
    from django_xunchen.sending.bulk import insert_messages

    from .management.commands.flush import LARGE

    insert_messages([Message(mobile=f"138{i:08d}", content="回T退订" * 20) for i in range(20_000)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s::regclass)", [Message._meta.db_table])
        assert cursor.fetchone()[0] > LARGE
        call_command("flush", interactive=False, reset_sequences=False, verbosity=0)
        cursor.execute(f"SELECT count(*) FROM {VECTORS}")
        assert cursor.fetchone()[0] == 0
    assert {t: n for t, n in rows_per_table().items() if t not in KEPT and n} == {}
