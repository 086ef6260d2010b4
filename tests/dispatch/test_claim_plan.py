"""The statements that claim a request's rows and record its outcome, and a send task's
read of its rows, find those rows by primary key, whatever the planner's statistics say
of their status: just after a large send wrote thousands of ``queued`` rows, statistics
gathered before it call ``queued`` rare, and a status index taken as the way in reads
every queued row for each request of a hundred (a send of 10,000 spent 17 of each
claim's 26 ms there)."""

import datetime as dt
import json
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import send_sms
from django_xunchen.models import Message, Suppression
from django_xunchen.sending import admission, bulk
from django_xunchen.tasks import send_messages

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_only]
S = Message.Status
CHINA = zoneinfo.ZoneInfo("Asia/Shanghai")
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


def statistics_where_every_row_was_sent() -> None:
    old = [Message(mobile=f"139{i:08d}", content="旧消息", status=S.SENT) for i in range(3000)]
    bulk.insert_messages(old)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Message._meta.db_table}")


def test_the_claim_and_the_outcome_go_by_primary_key_when_statistics_call_queued_rare(
    settings,
):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    statistics_where_every_row_was_sent()
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


def test_a_send_task_reads_its_rows_by_primary_key_too(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    statistics_where_every_row_was_sent()
    rows = [Message(mobile=f"1370000{i:04d}", content="排队") for i in range(2000)]
    bulk.insert_messages(rows)
    table = Message._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert send_messages.call([r.pk for r in rows[:100]])["sent"] == 100
    load = next(
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and f'FROM "{table}"' in q["sql"] and "ANY(" in q["sql"]
    )
    used = indexes_used(load)
    assert f"{table}_pkey" in used and "xunchen_msg_status_created" not in used


def test_the_rules_at_submit_write_their_rows_by_primary_key_too(settings):
    """Quiet hours (a hold), an expiry and a suppression since the rows were written: each
    writes the rows of one request, named by id."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "QUIET_HOURS": ("21:00", "08:00")}
    statistics_where_every_row_was_sent()
    evening = dt.datetime(2026, 12, 7, 22, 0, tzinfo=CHINA)
    rows = [
        Message(mobile=f"1370000{i:04d}", content="上新", kind=Message.Kind.MARKETING)
        for i in range(2000)
    ]
    bulk.insert_messages(rows)
    Suppression.objects.create(mobile=rows[0].mobile, source=Suppression.Source.STAFF)
    ids = [r.pk for r in rows[:100]]
    with CaptureQueriesContext(connection) as queries:
        assert admission.at_submit(rows[:100], evening) == []  # held until 08:00
        assert admission.expire(ids, evening) == 0
        assert admission.suppress_unclaimed(ids, Message.Kind.MARKETING, evening, "default")
    table = Message._meta.db_table
    statements = [q["sql"] for q in queries if f'"{table}"' in q["sql"] and "ANY(" in q["sql"]]
    assert len(statements) >= 3
    for sql in statements:
        used = indexes_used(sql)
        assert "xunchen_msg_status_created" not in used, sql[:80]
