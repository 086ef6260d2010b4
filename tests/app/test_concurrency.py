"""Real concurrency: threads with their own database connections (PostgreSQL)."""

import threading
from collections import Counter

import pytest
from django.db import connections

from django_xunchen import poll, send_queued
from django_xunchen.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _run_together(target, count):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker is still running"
    assert not errors, errors
    return results


def test_overlapping_polls_never_fetch_at_the_same_time(gateway):
    gateway.inject_fault("latency", seconds=1, method="queryReport")
    results = _run_together(poll, 4)
    fetches = [r for r in gateway.requests if r.get("method") == "queryReport"]
    assert len(fetches) == 1
    assert sum(1 for r in results if r.locked_by) == 3


def test_concurrent_senders_claim_each_row_once(gateway):
    Message.objects.bulk_create(
        [Message(mobile=f"138{i:08d}", content="once only") for i in range(300)]
    )
    counts = _run_together(send_queued, 4)
    assert sum(c["sent"] for c in counts) == 300, "each run counts only what it sent"
    sent = Counter(m for s in gateway.submissions for m in s.mobiles)
    assert len(sent) == 300
    assert max(sent.values()) == 1, "no number was sent twice"
    assert Message.objects.filter(status="sent").count() == 300
