"""tests/template_db.py: a pytest session that copies the migrated template has the
database and the content type cache of one that migrated."""

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
