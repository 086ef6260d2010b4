"""With a real task engine (django-tasks-db on PostgreSQL, a worker process of its own):
a poll's delivered reports reach the receiver on 127.0.0.1 through the task the commit
enqueued, not through the tick or a command; a receiver that fails twice gets the event
on the third attempt, once."""

from __future__ import annotations

import pytest
from django.db import connection

from django_xunchen import poll, send_sms
from django_xunchen.models import EventType, WebhookDelivery

from ..engines import ENGINES, start_worker, stop_workers, wait_until, worker_env
from .conftest import documented_receiver, make_endpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture
def worker(gateway, settings):
    tasks = {"default": ENGINES["db"]}
    conf = {
        **settings.XUNCHEN,
        "POLL_INTERVAL": 0,
        # A tick far away: only the task the commit enqueued can deliver in time.
        "TICK_SECONDS": 3600,
        "WEBHOOKS": {"ALLOW_PRIVATE_ADDRESSES": True, "TIMEOUT": 3},
    }
    settings.XUNCHEN = conf
    settings.TASKS = tasks
    db = connection.settings_dict
    login = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    url = f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    proc = start_worker("db", "w0", worker_env(url, conf, tasks, {}))
    try:
        yield proc
    finally:
        stop_workers([proc])
        connection.close()


def test_delivered_reports_reach_the_receiver_through_the_task_engine(gateway, worker, receiver):
    _endpoint, secret = make_endpoint(receiver.url, [EventType.MESSAGE_DELIVERED])
    numbers = [f"1380013{i:04d}" for i in range(20)]
    rows = send_sms(numbers, "您的订单已发货")
    gateway.deliver_now()
    assert poll().ok
    assert wait_until(lambda: len(receiver.received) >= 20, timeout=60), len(receiver.received)
    verify = documented_receiver().verify
    got = [verify(secret, r.body, r.headers["X-Xunchen-Signature"]) for r in receiver.received]
    assert sorted(e["data"]["id"] for e in got) == sorted(r.pk for r in rows)
    assert {e["type"] for e in got} == {"message.delivered"}
    assert len({e["id"] for e in got}) == 20
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_once(
    gateway, worker, receiver
):
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.statuses = [500, 500]
    (row,) = send_sms("13800138000", "您的订单已发货")
    first = WebhookDelivery.objects.filter(event__object_id=row.pk)
    assert wait_until(lambda: first.filter(attempts=1).exists(), timeout=60)
    for attempts in (2, 3):
        # Its retry is due (the test moves its time instead of waiting its backoff), and
        # a new event's task, enqueued by the send's commit, runs it.
        first.filter(status="pending").update(next_attempt_at="2000-01-01T00:00:00Z")
        send_sms("13800138001", "再来一条")
        assert wait_until(lambda n=attempts: first.filter(attempts=n).exists(), timeout=60)
    assert wait_until(
        lambda: not WebhookDelivery.objects.filter(status="pending").exists(), timeout=60
    )
    event_id = first.get().event.event_id
    assert [r.event["id"] for r in receiver.received].count(str(event_id)) == 3
    assert (first.get().status, first.get().attempts) == ("delivered", 3)
