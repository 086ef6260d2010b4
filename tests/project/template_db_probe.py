"""Run by tests/project/test_template_db.py in pytest sessions of its own (its name keeps
it out of the suite): writes what the session's test database holds, and what the
process has cached of it, to the file named by ``XUNCHEN_PROBE_OUT``."""

import json
import os
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection


@pytest.mark.django_db
def test_probe():
    with connection.cursor():
        # The time each migration was applied is the one thing two sessions differ in.
        rows = [
            re.sub(r",'[0-9-]+ [0-9:.]+'\);$", ");", row)
            if row.startswith('INSERT INTO "django_migrations"')
            else row
            for row in connection.connection.iterdump()
        ]
    cached = sorted(
        f"{ct.app_label}.{ct.model}"
        for by_id in ContentType.objects._cache.values()
        for ct in by_id.values()
    )
    with open(os.environ["XUNCHEN_PROBE_OUT"], "w", encoding="utf-8") as out:
        json.dump({"dump": rows, "cached_content_types": cached}, out)
