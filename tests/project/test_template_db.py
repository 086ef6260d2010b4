"""What make mutation changes in each mutant's pytest session: the test database copied
from a template (tests/template_db.py) is the one a migrated session has, and the tests run
fastest first (tests/fastest_first.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import template_db

ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests/project/template_db_probe.py"

pytestmark = pytest.mark.main_step_only


def probe(tmp_path: Path, name: str, template: Path | None) -> dict:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "XUNCHEN_PROBE_OUT": str(out), "DATABASE_URL": "sqlite:///:memory:"}
    env.pop(template_db.VARIABLE, None)
    if template is not None:
        env[template_db.VARIABLE] = str(template)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            PROBE,
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_session_from_the_template_sees_what_a_migrated_one_sees(tmp_path):
    template = tmp_path / "template"
    migrated = probe(tmp_path, "migrated", None)
    first = probe(tmp_path, "first", template)
    saved = (template / "default.sqlite3").stat().st_mtime_ns
    copied = probe(tmp_path, "copied", template)

    assert (template / "default.sqlite3").stat().st_mtime_ns == saved  # copied, not remade
    assert [p.name for p in template.iterdir()] == ["default.sqlite3"]  # no partial file left
    assert len(migrated["dump"]) > 100  # tables, content types, permissions
    assert first == migrated
    assert copied == migrated


def test_under_make_mutation_a_session_runs_its_tests_fastest_first(tmp_path):
    tests = [
        "tests/policy/test_quiet_hours_window.py::test_no_window_is_never_quiet",
        "tests/policy/test_quiet_hours_window.py::test_a_window_within_a_day[at1-until1]",
        "tests/policy/test_quiet_hours_window.py::test_a_window_across_midnight[at0-None]",
    ]
    stats = tmp_path / "mutmut-stats.json"
    stats.write_text(json.dumps({"duration_by_test": {tests[0]: 0.3, tests[1]: 0.1}}))
    env = {**os.environ, "XUNCHEN_TEST_DURATIONS": str(stats)}
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *tests],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert listed[:3] == [tests[1], tests[0], tests[2]]  # 0.1 s, 0.3 s, unknown
