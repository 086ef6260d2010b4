"""The benchmark command runs and sends in exactly the protocol's floor of requests."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.main_step_only
def test_benchmark_command(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}"}
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--sizes",
            "100,250",
            "--latency",
            "1000",
            "--campaign",
            "500",
            "--upload",
            "300",
            "--export",
            "400",
            "--webhooks",
            "300",
            "--ingest",
            "2000",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    requests = re.findall(r"send (\d+) numbers: requests\s+(\d+)\s+(\d+)", out)
    assert requests == [("100", "1", "1"), ("250", "3", "3")]
    assert "poll 250 reports: seconds" in out
    assert re.search(r"poll 300 reports \(\d+ undelivered\), with a webhook endpoint", out)
    assert re.search(r"campaign of 500 rows, CSV: check and stage, memory growth MB.*\s\d+", out)
    assert "campaign of 500 rows, CSV: confirm (500 messages written), seconds" in out
    assert re.search(r"upload of 300 rows, CSV \(0 MB\): request seconds.*\s[\d.]+", out)
    assert re.search(r"message log CSV export, 400 messages .*memory growth MB.*\s[\d.]+", out)
    assert re.search(r"send 1000 at 50 ms, 8 at once: seconds \(goal <= 1.5x\)\s+[\d.]+", out)
    budget = dict(re.findall(r"(request_code|check_code): DB queries.*?budget\)\s+([\d.]+)", out))
    assert float(budget["request_code"]) <= 6 and float(budget["check_code"]) <= 3, out
