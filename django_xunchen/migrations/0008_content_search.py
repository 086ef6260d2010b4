"""Content search on PostgreSQL: a GIN index on the character bigrams of the content.

Staff search 1–2 character Chinese terms most (退订, 快递), which pg_trgm cannot serve
(a trigram needs three characters) and pg_bigm and PGroonga are not in Debian. The
bigrams come from an IMMUTABLE SQL function of the content, so the index is maintained
by the database on every insert, COPY included: there is no column to keep in step.
``django_xunchen.search`` turns a term into the matching query. Elsewhere (SQLite) this
migration does nothing and the search scans, as before.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION xunchen_bigrams(text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array_to_tsvector(ARRAY(
        SELECT DISTINCT substr(padded, i, 2)
        FROM (SELECT upper($1) || ' ' AS padded) AS p,
             generate_series(1, length(padded) - 1) AS i
    ))
$$
"""
INDEX = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS xunchen_msg_content_bigrams "
    "ON django_xunchen_message USING gin (xunchen_bigrams(content))"
)


class PostgreSQLOnly(migrations.RunSQL):
    """RunSQL on PostgreSQL; nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY: an existing table stays writable while it is built.
    atomic = False

    dependencies = [("django_xunchen", "0007_daily_rollup")]

    operations = [
        PostgreSQLOnly(FUNCTION, "DROP FUNCTION IF EXISTS xunchen_bigrams(text)"),
        PostgreSQLOnly(INDEX, "DROP INDEX CONCURRENTLY IF EXISTS xunchen_msg_content_bigrams"),
    ]
