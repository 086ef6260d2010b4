"""The test suite's ``flush``, which Django runs after each transactional test: the same
empty tables as Django's own, in a fraction of the time.

Django's flush TRUNCATEs every table (on PostgreSQL each table and index gets new files:
about 0.25 s for this project's tables), then writes every content type and permission
back through ``post_migrate``, after each of the suite's thousand transactional tests:
minutes of every PostgreSQL run. This one keeps ``django_content_type`` and
``auth_permission`` as migrate made them, which is all ``post_migrate`` writes in this
project's settings (``contenttypes`` and ``auth`` are its only receivers, and no test
changes those rows), and DELETEs the rows of every other table in one transaction, the
foreign keys checked at its end (Django makes them deferrable); on PostgreSQL a table over
:data:`LARGE` bytes (a test's 100,000 messages) is TRUNCATEd, which its size then
outweighs. A flush asked for anything else (interactively, or resetting the sequences) is
Django's own.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

#: The tables ``post_migrate`` fills, which this flush keeps.
KEPT = {"django_content_type", "auth_permission"}
#: Bytes of a PostgreSQL table above which TRUNCATE is faster than DELETE.
LARGE = 4 * 1024 * 1024


class Command(flush.Command):
    def handle(self, **options):
        if options["interactive"] or options.get("reset_sequences", True):
            return super().handle(**options)
        alias = options["database"]
        connection = connections[alias]
        tables = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        quote = connection.ops.quote_name
        emptied = sorted(set(tables) - KEPT)
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                cursor.execute(
                    "SELECT relname FROM pg_class WHERE oid IN "
                    "(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name) "
                    "AND pg_relation_size(oid) > %s",
                    [emptied, LARGE],
                )
                large = sorted(row[0] for row in cursor.fetchall())
                if large:
                    cursor.execute(f"TRUNCATE {', '.join(quote(t) for t in large)} CASCADE")
                emptied = [t for t in emptied if t not in large]
            for table in emptied:
                cursor.execute(f"DELETE FROM {quote(table)}")
        return None
