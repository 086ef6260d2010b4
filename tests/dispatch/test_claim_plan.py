"""The statements that claim a request's rows and record its outcome find those rows by
primary key, whatever the planner's statistics say of their status: just after a large
send wrote thousands of ``queued`` rows, statistics gathered before it call ``queued``
rare, and a status index taken as the way in reads every queued row for each request
of a hundred (a send of 10,000 spent 17 of each claim's 26 ms there)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import send_sms
from django_xunchen.models import Message
from django_xunchen.sending import bulk

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def indexes_used(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if "Index Name" in node:
            found.add(node["Index Name"])
        nodes.extend(node.get("Plans", []))
    return found


def test_the_claim_and_the_outcome_go_by_primary_key_when_statistics_call_queued_rare(
    settings,
):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    old = [Message(mobile=f"139{i:08d}", content="旧消息", status=S.SENT) for i in range(3000)]
    bulk.insert_messages(old)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Message._meta.db_table}")  # every row sent
    with CaptureQueriesContext(connection) as queries:
        assert len(send_sms([f"1380000{i:04d}" for i in range(2000)], "新消息")) == 2000
    table = Message._meta.db_table
    claims = [
        q["sql"]
        for q in queries
        if q["sql"].startswith(f'UPDATE "{table}" SET "status" = \'sending\'')
    ]
    outcomes = [
        q["sql"]
        for q in queries
        if q["sql"].startswith(f'UPDATE "{table}" SET "status" = \'sent\'')
    ]
    assert len(claims) == len(outcomes) == 20
    pkey = f"{table}_pkey"
    assert indexes_used(claims[0]) == {pkey}
    assert indexes_used(outcomes[0]) == {pkey}
