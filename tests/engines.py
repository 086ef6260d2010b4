"""Task engines with worker processes, for tests/background/test_engines.py and the benchmark:
django-tasks-db on PostgreSQL, and RQ on Redis through django-tasks-rq."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUEUES = ["default", "sms-codes"]
ENGINES = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": QUEUES},
}


def wait_until(predicate: Callable[[], object], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port; yields its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            executable,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    try:
        if not wait_until(lambda: _pings(client), timeout=10):
            raise RuntimeError("redis-server did not start")
        yield url
    finally:
        proc.kill()
        proc.wait(10)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def worker_env(database_url: str, conf: dict, tasks: dict, rq_queues: dict) -> dict[str, str]:
    """The environment of a worker process that shares the caller's database, fake
    gateway (in ``conf``) and task engine (tests/settings.py reads it)."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "XUNCHEN_TEST_SETTINGS": json.dumps(conf),
        "XUNCHEN_TEST_TASKS": json.dumps(tasks),
        "XUNCHEN_TEST_RQ_QUEUES": json.dumps(rq_queues),
    }


def start_worker(kind: str, name: str, env: dict[str, str], queues: str = "*") -> subprocess.Popen:
    """One worker of engine ``kind`` (``db`` or ``rq``) on ``queues`` (``*``: all)."""
    if kind == "db":
        command = ["db_worker", "--queue-name", queues, "--interval", "0.2"]
        command += ["--no-startup-delay", "--worker-id", name]
    else:
        names = QUEUES if queues == "*" else [queues]
        command = ["rqworker", *names, "--name", f"{name}-{os.getpid()}"]
        command += ["--job-class", "django_tasks_rq.backend.Job"]
        command += ["--worker-class", "django_xunchen.rq.SimpleWorker", "--with-scheduler"]
    log = os.environ.get("XUNCHEN_WORKER_LOGS")  # a directory, to see what workers say
    out = open(Path(log) / f"{kind}-{name}.log", "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "django", *command],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_machine(proc: subprocess.Popen) -> None:
    """SIGKILL a worker with every process it started (RQ's scheduler runs in a child),
    as when its machine or container dies."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop_workers(workers: list[subprocess.Popen]) -> None:
    """Stop them as an operator would (SIGTERM: a warm shutdown), killing any that does
    not stop within 10 s. (An RQ worker killed while it waits for a job may take the next
    job with it to its intermediate queue, where RQ finds it only minutes later.)"""
    for proc in workers:
        if proc.poll() is None:
            proc.terminate()
    for proc in workers:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what it left behind (RQ's scheduler)
