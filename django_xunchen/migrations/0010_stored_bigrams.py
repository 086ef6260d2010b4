"""The content index reads stored bigram vectors instead of computing them again.

PostgreSQL computes an index's expression for every new row version, and a message gets
one for every status change (the claim, the outcome, each report): with 0008's
expression index, ``xunchen_bigrams(content)`` ran again each time for a text that does
not change, about 60% of what the index cost a status change of a 70-character text and
over 90% for a 400-character one (``make bench``). The vectors now live in a column of
their own, ``content_bigrams``, which a trigger fills whenever the content is written
(an insert, ``COPY`` included, or an UPDATE that sets the content): there is still
nothing for the app to keep in step, and a status change copies the vector.

Existing rows are filled in batches of 10,000, each in its own transaction, so that
sending and polling go on during the upgrade; the new index is built concurrently before
the old one is dropped. PostgreSQL only: elsewhere this migration does nothing.
"""

from importlib import import_module

from django.db import migrations

_0008 = import_module("django_xunchen.migrations.0008_content_search")
PostgreSQLOnly = _0008.PostgreSQLOnly

TABLE = "django_xunchen_message"
BATCH = 10000

COLUMN_AND_TRIGGER = [
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS content_bigrams tsvector",
    """
    CREATE OR REPLACE FUNCTION xunchen_message_bigrams() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.content_bigrams := xunchen_bigrams(NEW.content);
        RETURN NEW;
    END
    $$
    """,
    f"CREATE TRIGGER xunchen_message_bigrams BEFORE INSERT OR UPDATE OF content ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION xunchen_message_bigrams()",
]
NO_COLUMN_OR_TRIGGER = [
    f"DROP TRIGGER IF EXISTS xunchen_message_bigrams ON {TABLE}",
    "DROP FUNCTION IF EXISTS xunchen_message_bigrams()",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS content_bigrams",
]
INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS xunchen_msg_bigrams "
    f"ON {TABLE} USING gin (content_bigrams)"
)


def fill(apps, schema_editor):
    """Give every row written before the trigger its vector. The trigger was created
    under a lock that waited for every open insert, so the rows it missed all have ids
    up to the largest one now."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM django_xunchen_message")
        low, high = cursor.fetchone()
    if low is None:
        return
    for start in range(low, high + 1, BATCH):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE django_xunchen_message SET content_bigrams = xunchen_bigrams(content) "
                "WHERE id >= %s AND id < %s AND content_bigrams IS NULL",
                [start, start + BATCH],
            )


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY, and a fill that commits batch by batch.
    atomic = False

    dependencies = [("django_xunchen", "0009_linear_bigrams")]

    operations = [
        PostgreSQLOnly(COLUMN_AND_TRIGGER, NO_COLUMN_OR_TRIGGER),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        PostgreSQLOnly(INDEX, "DROP INDEX CONCURRENTLY IF EXISTS xunchen_msg_bigrams"),
        PostgreSQLOnly(
            "DROP INDEX CONCURRENTLY IF EXISTS xunchen_msg_content_bigrams", _0008.INDEX
        ),
    ]
