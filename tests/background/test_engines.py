"""Real task engines, each with worker processes: django-tasks-db on PostgreSQL, and RQ
on Redis through django-tasks-rq (Debian's redis-server, started here on a free port).

Messages are queued from two processes at once and must each reach the fake gateway
exactly once; a worker killed in the middle of a batch leaves at most its one request's
rows ``unknown`` while every other message still goes out exactly once.
"""

import subprocess
import sys
import time
from collections import Counter

import pytest
from django.db import connection

from django_xunchen.models import Message

from ..conftest import skip_unless_required
from ..engines import (
    ENGINES,
    QUEUES,
    ROOT,
    kill_machine,
    redis_server,
    start_worker,
    stop_workers,
    wait_until,
)
from ..engines import worker_env as make_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


@pytest.fixture
def redis_url(tmp_path):
    """A throwaway redis-server on a port held until it binds."""
    try:
        with redis_server(tmp_path) as url:
            yield url
    except FileNotFoundError as exc:
        skip_unless_required(str(exc), "XUNCHEN_REQUIRE_POSTGRES")


@pytest.fixture(params=["db", "rq"])
def engine(request, gateway, settings):
    """The test process and its workers share the test database, the fake gateway and
    the task engine."""
    kind = request.param
    tasks = {"default": ENGINES[kind]}
    rq_queues = {}
    if kind == "rq":
        url = request.getfixturevalue("redis_url")
        rq_queues = {name: {"URL": url} for name in QUEUES}
        settings.RQ_QUEUES = rq_queues
    gateway.account.balance *= 100
    conf = {
        **settings.XUNCHEN,
        "POLL_INTERVAL": 0,
        "TICK_SECONDS": 1,
        "CONCURRENCY": 1,
        "REQUEST_DEADLINE": 5,
        "OUTCOME_RETRY_SECONDS": 1,
        "SWEEP_MARGIN": 5,
        "ORPHANED_AFTER": 5,
        "BALANCE_CHECK_ABOVE": None,
    }
    settings.XUNCHEN = conf
    settings.TASKS = tasks
    db = connection.settings_dict
    login = f"{db['USER']}:{db['PASSWORD']}" if db["PASSWORD"] else db["USER"]
    url = f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = make_env(url, conf, tasks, rq_queues)
    workers: dict[str, subprocess.Popen] = {}

    def start(count, queues="*"):
        for index in range(len(workers), len(workers) + count):
            name = f"w{index}"
            workers[name] = start_worker(kind, name, env, queues)
        return workers

    def busy():
        """The name of the worker running a send task, if any."""
        if kind == "db":
            from django_tasks_db.models import DBTaskResult

            running = DBTaskResult.objects.filter(
                status="RUNNING", task_path__endswith="send_messages"
            ).first()
            return running.worker_ids[-1] if running else None
        import redis
        from rq import Worker

        client = redis.Redis.from_url(rq_queues["default"]["URL"])
        for worker in Worker.all(connection=client):
            if worker.get_current_job_id():
                return worker.name.rsplit("-", 1)[0]
        return None

    try:
        yield env, start, busy
    finally:
        stop_workers(list(workers.values()))
        connection.close()


def enqueue_from(env, numbers, kind="notification"):
    """A process of its own that sends ``numbers`` in the background (read from stdin)."""
    code = (
        "import sys, django; django.setup();"
        "from django_xunchen import send_sms;"
        "numbers = sys.stdin.read().split(',');"
        "send_sms(numbers, '后台发送', kind=sys.argv[1], background=True)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, kind], env=env, cwd=ROOT, stdin=subprocess.PIPE, text=True
    )
    proc.stdin.write(",".join(numbers))
    proc.stdin.close()
    return proc


def unfinished():
    return Message.objects.filter(status__in=["queued", "sending"]).count()


def test_ten_thousand_messages_from_two_processes_each_sent_once(engine, gateway):
    env, start, _ = engine
    start(3)
    first = [f"138{i:08d}" for i in range(5000)]
    second = [f"139{i:08d}" for i in range(5000)]
    senders = [enqueue_from(env, first), enqueue_from(env, second)]
    assert [p.wait(120) for p in senders] == [0, 0]
    assert Message.objects.count() == 10000
    assert wait_until(lambda: unfinished() == 0, timeout=240), Counter(
        Message.objects.values_list("status", flat=True)
    )
    sent = Counter(m for s in gateway.submissions for m in s.mobiles)
    assert len(sent) == 10000 and max(sent.values()) == 1, "each number exactly once"
    assert set(Message.objects.values_list("status", flat=True)) <= {"sent", "delivered"}


def test_a_killed_worker_leaves_at_most_one_request_unknown(engine, gateway):
    """The worker that runs the batch dies with its machine: on RQ it is also the one
    that runs the scheduler (it started first), so the deferred tick waits until another
    worker takes the scheduler over (django_xunchen.rq: within about 90 s)."""
    env, start, busy = engine
    gateway.inject_fault("latency", seconds=1.0, method="sendUtf8Msg", times=1000)
    numbers = [f"137{i:08d}" for i in range(1000)]
    assert enqueue_from(env, numbers).wait(60) == 0
    workers = start(1)
    assert wait_until(lambda: busy() and len(gateway.submissions) >= 2, timeout=60), (
        "the first worker takes the batch"
    )
    start(2)
    kill_machine(workers["w0"])
    # The rest goes out with the next ticks (which also poll: rows turn delivered); the
    # request that was in flight is swept to unknown once it is older than
    # REQUEST_DEADLINE + OUTCOME_RETRY_SECONDS + SWEEP_MARGIN (11 s here).
    assert wait_until(lambda: unfinished() == 0, timeout=180), Counter(
        Message.objects.values_list("status", flat=True)
    )
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses["unknown"] <= 100, statuses
    assert statuses["sent"] + statuses["delivered"] + statuses["unknown"] == 1000, statuses
    sent = Counter(m for s in gateway.submissions for m in s.mobiles)
    assert len(sent) == 1000 and max(sent.values()) == 1, "nothing went out twice"


def test_a_code_reaches_the_gateway_within_seconds_during_a_large_campaign(engine, gateway):
    env, start, _ = engine
    start(2, "default")
    start(1, "sms-codes")
    campaign = [f"13{i:09d}" for i in range(100000)]
    assert enqueue_from(env, campaign).wait(300) == 0
    assert wait_until(lambda: len(gateway.submissions) >= 5, timeout=60), "the campaign runs"
    asked = time.monotonic()
    assert enqueue_from(env, ["19900000000"], kind="verification").wait(60) == 0

    def code_sent():
        return any("19900000000" in s.mobiles for s in gateway.submissions)

    assert wait_until(code_sent, timeout=10, every=0.1), "the code waited for the campaign"
    waited = time.monotonic() - asked
    left = Message.objects.filter(status="queued", kind="notification").count()
    assert left > 50000, "the campaign was still running when the code went out"
    print(f"code sent {waited:.1f} s after it was asked, {left} campaign messages queued")
