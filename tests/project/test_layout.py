"""The layout a newcomer reads: small modules, and an architecture page that names
modules which exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "django_xunchen"
LIMIT = 600


@pytest.mark.main_step_only  # mutmut's copies of the modules are longer than the modules
def test_no_module_of_the_package_is_over_600_lines():
    modules = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    assert len(modules) > 50
    long = {
        str(p.relative_to(ROOT)): n
        for p in modules
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}


def test_the_architecture_page_names_only_modules_that_exist():
    text = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    named = set()
    for package, modules in re.findall(r"``(\w+)/``\n\s+- (.*?)(?=\n   \* - |\n\n)", text, re.S):
        for module in re.findall(r"``(\w+\.py)``", modules):
            named.add(f"{package}/{module}")
    named |= set(re.findall(r"``(\w+/\w+\.py)``", text))
    assert len(named) > 40
    missing = sorted(
        m for m in named if not any((PACKAGE / m.split("/")[0]).rglob(m.split("/")[1]))
    )
    assert missing == []


def test_the_architecture_page_says_where_the_asked_for_concerns_live():
    text = (ROOT / "docs" / "architecture.rst").read_text(encoding="utf-8")
    for concern, module in [
        ("**quiet hours**", "quiet_hours.py"),
        ("**the claim**", "claim.py"),
        ("**report matching**", "reports.py"),
        ("**the code throttles**", "throttles.py"),
    ]:
        row = next(line for line in text.split("   * - ") if concern in line)
        assert f"``{module}``" in row, concern
