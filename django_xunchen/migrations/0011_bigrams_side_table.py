"""The bigram vectors move to a table of their own, written once per message.

With 0010 the vectors sat in a column of the message table, under a GIN index on it. But
every status change of a message (the claim before its request, the outcome, each
delivery report) writes a new version of the row, and PostgreSQL gives every index an
entry for every new version, so each status change filed the vector's twenty-odd
bigrams in the GIN index again for a text that had not changed. On this project's
machine, 20,000 status changes on the message table took about twice as long with that
index as without it (``make bench``).

Now ``xunchen_message_bigrams`` holds one row per message, ``(message_id, bigrams)``,
with the GIN index, and triggers on the message table keep it in step: a statement
trigger files the vectors of every inserted row (``COPY`` included) in one statement,
a row trigger files a new vector when an UPDATE changes the content, a statement
trigger removes the deleted rows' vectors, and a TRUNCATE of the messages empties it
too. A status change no longer touches it. There is no foreign key, so that Django's
test flush, which truncates only the model tables, can still truncate the messages.

The upgrade copies the stored vectors of existing rows in committed batches of 10,000
(nothing is computed again), builds the index concurrently, and then drops 0010's
column, trigger and index. Dropping the column does not rewrite the table: its space
comes back with ``VACUUM FULL``. PostgreSQL only: elsewhere this migration does nothing.
"""

from importlib import import_module

from django.db import migrations

_0008 = import_module("django_xunchen.migrations.0008_content_search")
_0010 = import_module("django_xunchen.migrations.0010_stored_bigrams")
PostgreSQLOnly = _0008.PostgreSQLOnly

TABLE = "django_xunchen_message"
VECTORS = "xunchen_message_bigrams"
BATCH = 10000

VECTORS_AND_TRIGGERS = [
    f"CREATE TABLE IF NOT EXISTS {VECTORS} "
    "(message_id bigint PRIMARY KEY, bigrams tsvector NOT NULL)",
    f"""
    CREATE OR REPLACE FUNCTION xunchen_bigrams_added() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {VECTORS} (message_id, bigrams)
        SELECT id, xunchen_bigrams(content) FROM added
        ON CONFLICT (message_id) DO UPDATE SET bigrams = EXCLUDED.bigrams;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION xunchen_bigrams_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {VECTORS} (message_id, bigrams)
        VALUES (NEW.id, xunchen_bigrams(NEW.content))
        ON CONFLICT (message_id) DO UPDATE SET bigrams = EXCLUDED.bigrams;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION xunchen_bigrams_removed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {VECTORS} AS v USING removed WHERE v.message_id = removed.id;
        RETURN NULL;
    END
    $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION xunchen_bigrams_truncated() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {VECTORS};
        RETURN NULL;
    END
    $$
    """,
    f"CREATE OR REPLACE TRIGGER xunchen_bigrams_added AFTER INSERT ON {TABLE} "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT "
    "EXECUTE FUNCTION xunchen_bigrams_added()",
    f"CREATE OR REPLACE TRIGGER xunchen_bigrams_changed AFTER UPDATE OF content ON {TABLE} "
    "FOR EACH ROW WHEN (OLD.content IS DISTINCT FROM NEW.content) "
    "EXECUTE FUNCTION xunchen_bigrams_changed()",
    f"CREATE OR REPLACE TRIGGER xunchen_bigrams_removed AFTER DELETE ON {TABLE} "
    "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT "
    "EXECUTE FUNCTION xunchen_bigrams_removed()",
    f"CREATE OR REPLACE TRIGGER xunchen_bigrams_truncated AFTER TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION xunchen_bigrams_truncated()",
]
NO_VECTORS_OR_TRIGGERS = [
    *(
        f"DROP TRIGGER IF EXISTS xunchen_bigrams_{event} ON {TABLE}"
        for event in ("added", "changed", "removed", "truncated")
    ),
    *(
        f"DROP FUNCTION IF EXISTS xunchen_bigrams_{event}()"
        for event in ("added", "changed", "removed", "truncated")
    ),
    f"DROP TABLE IF EXISTS {VECTORS}",
]
INDEX = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS xunchen_bigrams_gin ON {VECTORS} USING gin (bigrams)"


def copy_vectors(apps, schema_editor):
    """File the vectors of every row written before the triggers. They were created under
    a lock that waited for every open insert, so those rows all have ids up to the
    largest one now; 0010's column holds their vectors. (A run again after a failure
    may find the column gone, and computes them.)"""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {TABLE}")
        low, high = cursor.fetchone()
        columns = {c.name for c in connection.introspection.get_table_description(cursor, TABLE)}
    if low is None:
        return
    vector = "xunchen_bigrams(content)"
    if "content_bigrams" in columns:
        vector = f"coalesce(content_bigrams, {vector})"
    for start in range(low, high + 1, BATCH):
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {VECTORS} (message_id, bigrams) "
                f"SELECT id, {vector} FROM {TABLE} WHERE id >= %s AND id < %s "
                "ON CONFLICT (message_id) DO NOTHING",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY, and a copy that commits batch by batch.
    atomic = False

    dependencies = [("django_xunchen", "0010_stored_bigrams")]

    # Backwards, these run from the last to the first: the column comes back, then its
    # index and trigger, then 0010's fill, and only then do the new table and its
    # triggers go.
    operations = [
        PostgreSQLOnly(VECTORS_AND_TRIGGERS, NO_VECTORS_OR_TRIGGERS),
        migrations.RunPython(copy_vectors, migrations.RunPython.noop, elidable=True),
        PostgreSQLOnly(INDEX, "DROP INDEX CONCURRENTLY IF EXISTS xunchen_bigrams_gin"),
        migrations.RunPython(migrations.RunPython.noop, _0010.fill, elidable=True),
        PostgreSQLOnly(_0010.NO_COLUMN_OR_TRIGGER[:2], _0010.COLUMN_AND_TRIGGER),
        PostgreSQLOnly("DROP INDEX CONCURRENTLY IF EXISTS xunchen_msg_bigrams", _0010.INDEX),
        PostgreSQLOnly(
            f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS content_bigrams",
            f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS content_bigrams tsvector",
        ),
    ]
