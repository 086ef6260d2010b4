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
