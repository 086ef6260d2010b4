"""Idempotency holds when requests race: threads against a live server, on PostgreSQL."""

import json
import threading
import urllib.request

import pytest

from django_xunchen.httpapi.keys import create_key
from django_xunchen.models import IdempotencyRecord, Message

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_20_concurrent_posts_with_one_idempotency_key_send_one_sms(live_server, xunchen_outbox):
    key = create_key("orders", scopes=["send"])[1]
    body = json.dumps({"mobile": "13800138000", "content": "订单 42 已发货"}).encode()
    start = threading.Barrier(20)
    answers = []

    def post():
        request = urllib.request.Request(  # noqa: S310 - the live server's http URL
            f"{live_server.url}/sms/api/v1/messages",
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Idempotency-Key": "order-42-shipped",
            },
        )
        start.wait()
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            answers.append((answer.status, json.load(answer)))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 20
    assert {status for status, _ in answers} == {201}
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1, "one answer"
    assert Message.objects.count() == 1
    assert len(xunchen_outbox) == 1
    assert IdempotencyRecord.objects.get().status == 201


def test_the_rate_limit_holds_for_racing_requests(live_server, monkeypatch):
    """16 requests at once, each on its own connection, for a key of 5 a minute: the
    conditional UPDATE lets exactly 5 through. The minute is held still, so that the
    race never straddles two."""
    import datetime as dt
    import types
    import urllib.error

    from django_xunchen.httpapi import keys

    still = dt.datetime(2026, 3, 1, 9, 30, 20, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(keys, "timezone", types.SimpleNamespace(now=lambda: still))
    key = create_key("reports", scopes=["read"], per_minute=5)[1]
    start = threading.Barrier(16)
    statuses = []

    def get():
        request = urllib.request.Request(  # noqa: S310 - the live server's http URL
            f"{live_server.url}/sms/api/v1/balance", headers={"Authorization": f"Bearer {key}"}
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                statuses.append(answer.status)
        except urllib.error.HTTPError as refused:
            statuses.append(refused.code)

    threads = [threading.Thread(target=get) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 5 + [429] * 11
