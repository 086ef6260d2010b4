"""A real PostgreSQL restart between a fetch and its journal write: the answer goes to
disk, the poller cannot release its lock, and the next poll on this host takes the lock
over, journals the answer and stores every report.

The server is a throwaway cluster of the test's own (the suite's database stays up), so
the test runs where PostgreSQL's programs are: in the PostgreSQL step of ``make test``.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from django_xunchen.fake_gateway import FakeGateway

pytestmark = pytest.mark.postgres_only
ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ["13800138000", "13900000000"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    def __init__(self, folder: Path) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        found = shutil.which("pg_ctl")
        self.bin = bins[-1] if bins else Path(found).parent if found else None
        if self.bin is None:
            pytest.fail("PostgreSQL's pg_ctl is not installed")
        self.data = folder / "data"
        self.port = free_port()
        self.root = os.getuid() == 0
        if self.root:
            shutil.chown(folder, "postgres")
        self.run(f"'{self.bin}/initdb' -D '{self.data}' -A trust -U postgres >/dev/null")

    def command(self, line: str) -> str:
        return f'su postgres -s /bin/sh -c "{line}"' if self.root else line

    def run(self, line: str) -> None:
        subprocess.run(self.command(line), shell=True, check=True)  # noqa: S602

    def pg_ctl(self, action: str) -> str:
        options = f"-p {self.port} -k /tmp -h 127.0.0.1 -F"
        return (
            f"'{self.bin}/pg_ctl' -D '{self.data}' -l '{self.data}/log' -w -m fast "
            f"-o '{options}' {action} >/dev/null"
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster():
    # Not under tmp_path: its parents are private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="xunchen-restart-"))
    try:
        cluster = Cluster(folder)
        cluster.run(cluster.pg_ctl("start"))
        yield cluster
        subprocess.run(cluster.command(cluster.pg_ctl("stop")), shell=True, check=False)  # noqa: S602
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_poll_whose_database_restarts_after_the_fetch_loses_no_report(cluster, tmp_path):
    with FakeGateway(seed=9, report_delay=0) as gateway:
        username, password, very_code = gateway.credentials

        def run(*args, backend="django_xunchen.backends.xunchen.SMSBackend"):
            settings = {
                "BACKEND": backend,
                "BASE_URL": gateway.base_url,
                "USERNAME": username,
                "PASSWORD": password,
                "VERY_CODE": very_code,
                "SPOOL_DIR": str(tmp_path / "spool"),
            }
            return subprocess.run(
                [sys.executable, "-m", "tests.crash_poll", *args],
                env={
                    **os.environ,
                    "PYTHONPATH": str(ROOT),
                    "DJANGO_SETTINGS_MODULE": "tests.settings",
                    "DATABASE_URL": cluster.url,
                    "XUNCHEN_TEST_SETTINGS": json.dumps(settings),
                    "XUNCHEN_STOP_DB": cluster.command(cluster.pg_ctl("stop")),
                },
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )

        setup = run("setup", *NUMBERS)
        assert setup.returncode == 0, setup.stderr
        gateway.deliver_now()

        down = run("poll-sms-while-down", backend="tests.crash_poll.StopDatabaseAfterFetch")
        assert down.returncode == 1, down.stderr
        assert "kept in" in json.loads(down.stdout)["error"]
        assert gateway.state.pending_reports() == 0, "the gateway handed them over"
        assert "could not be released" in down.stderr
        (kept,) = (tmp_path / "spool" / "poll").iterdir()
        assert kept.suffix == ".answer"

        cluster.run(cluster.pg_ctl("start"))
        again = run("poll")
        assert json.loads(again.stdout) == {"ok": True, "locked_by": None}, again.stderr
        state = json.loads(run("state").stdout)
        assert state["reports"] == 2
        assert state["statuses"] == ["delivered", "delivered"]
        assert not kept.exists()
