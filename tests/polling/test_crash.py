"""kill -9 after a fetch loses nothing: a poll in a subprocess is SIGKILLed the moment it
starts parsing, and the next poll ingests what the first one fetched."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from django_xunchen.fake_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = ["13800138000", "13900000000"]


@pytest.fixture
def run(tmp_path):
    with FakeGateway(seed=5, report_delay=0) as gateway:
        username, password, very_code = gateway.credentials
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'crash.sqlite3'}",
            "XUNCHEN_TEST_SETTINGS": json.dumps(
                {
                    "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
                    "BASE_URL": gateway.base_url,
                    "USERNAME": username,
                    "PASSWORD": password,
                    "VERY_CODE": very_code,
                    "SPOOL_DIR": str(tmp_path / "spool"),
                    "LOCK_TIMEOUT": 1,
                }
            ),
        }

        def run(*args):
            return subprocess.run(
                [sys.executable, "-m", "tests.crash_poll", *args],
                env=environment,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )

        run.gateway = gateway
        yield run


def test_a_poll_killed_after_its_fetch_loses_no_report(run):
    setup = run("setup", *NUMBERS)
    assert setup.returncode == 0, setup.stderr
    run.gateway.deliver_now()

    killed = run("poll-and-die")
    assert killed.returncode == -signal.SIGKILL
    assert run.gateway.state.pending_reports() == 0, "the gateway handed them over"

    state = json.loads(run("state").stdout)
    assert state["entries"] == [{"state": "pending", "body_has_numbers": True}]
    assert state["reports"] == 0

    time.sleep(1.2)  # the dead poll's lock expires (LOCK_TIMEOUT 1 s)
    recovered = run("poll")
    assert json.loads(recovered.stdout) == {"ok": True, "locked_by": None}, recovered.stderr
    state = json.loads(run("state").stdout)
    assert state["reports"] == 2
    assert state["statuses"] == ["delivered", "delivered"]


def test_a_send_killed_after_the_gateway_accepted_it_gets_its_msgid_from_the_reports(run):
    """kill -9 between the gateway's answer and its write: the rows stay ``sending``, then
    ``unknown``, without a msgid; their reports carry the msgid and prove the request."""
    killed = run("send-and-die", *NUMBERS)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (accepted,) = run.gateway.submissions
    state = json.loads(run("state").stdout)
    assert state["messages"] == [["sending", ""], ["sending", ""]]
    assert state["requests"] == 1

    run.gateway.deliver_now()
    early = run("poll")  # the request might still be in flight: nothing is taken yet
    assert json.loads(early.stdout) == {"ok": True, "locked_by": None}, early.stderr
    state = json.loads(run("state").stdout)
    assert (state["reports"], state["messages"]) == (2, [["sending", ""], ["sending", ""]])

    swept = run("send-queued-later", "3600")
    assert json.loads(swept.stdout)["stale"] == 2, swept.stderr
    assert json.loads(run("state").stdout)["messages"] == [["unknown", ""], ["unknown", ""]]

    recovered = run("poll")  # the orphan reports now recover the request
    assert json.loads(recovered.stdout) == {"ok": True, "locked_by": None}, recovered.stderr
    state = json.loads(run("state").stdout)
    assert state["messages"] == [["delivered", accepted.msgid], ["delivered", accepted.msgid]]
    assert state["reports"] == 2
