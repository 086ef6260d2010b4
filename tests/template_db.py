"""Test databases copied from a template, for runs that start pytest thousands of times.

`make mutation` starts a pytest session per mutant; each one migrated a new in-memory
SQLite database, about as long as the median mutant's tests. With
``XUNCHEN_TEST_DB_TEMPLATE`` naming a directory (scripts/mutation.py makes one per run
and removes it after), the first session to migrate saves each database there, and every
later session copies it into its in-memory database (SQLite's backup API) instead of
migrating. The copy is the migrated database, rows and all (content types, permissions),
so the tests see the same database either way (tests/project/test_template_db.py also
compares the content type cache, which migrating empties again at its end). Other runs
never set the variable.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

VARIABLE = "XUNCHEN_TEST_DB_TEMPLATE"


def install() -> None:
    directory = os.environ.get(VARIABLE)
    if not directory:
        return
    from django.db.backends.sqlite3.creation import DatabaseCreation

    if getattr(DatabaseCreation.create_test_db, "from_template", False):
        return
    migrate = DatabaseCreation.create_test_db

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        name = self._get_test_db_name()
        if keepdb or not self.is_in_memory_db(name):
            return migrate(self, verbosity, autoclobber, serialize, keepdb)
        template = Path(directory) / f"{self.connection.alias}.sqlite3"
        if not template.exists():
            name = migrate(self, verbosity, autoclobber, serialize, keepdb)
            _save(self.connection.connection, template)
            return name
        from django.conf import settings

        self.connection.close()
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name
        self.connection.ensure_connection()
        with closing(sqlite3.connect(template)) as source:
            source.backup(self.connection.connection)
        if serialize:
            self.connection._test_serialized_contents = self.serialize_db_to_string()
        return name

    create_test_db.from_template = True
    DatabaseCreation.create_test_db = create_test_db


def _save(connection: sqlite3.Connection, template: Path) -> None:
    """Write the database to ``template`` whole or not at all: sessions running beside
    this one may be reading the directory."""
    template.parent.mkdir(parents=True, exist_ok=True)
    partial = template.with_name(f"{template.name}.{os.getpid()}")
    with closing(sqlite3.connect(partial)) as target:
        connection.backup(target)
    os.replace(partial, template)
