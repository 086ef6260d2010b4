"""Every import path the documentation cites works, and every module that moved keeps its
old path (with a DeprecationWarning) as the very same module."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from django_xunchen._moved import MOVED

ROOT = Path(__file__).resolve().parents[2]
CITING = [
    *sorted((ROOT / "docs").glob("*.rst")),
    ROOT / "README.md",
    ROOT / "README.zh-Hans.md",
    ROOT / "CONTRIBUTING.md",
]
DOTTED = re.compile(r"\bdjango_xunchen(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
#: Cited in prose for what they are, not as something to import.
NOT_IMPORTS = {
    "django_xunchen.send_campaign",  # a permission: app label and codename
}


def cited() -> list[str]:
    found = set()
    for path in CITING:
        for match in DOTTED.finditer(path.read_text(encoding="utf-8")):
            path_ = match.group(0)
            if not re.search(r"\.[EW]\d{3}$", path_):  # a system check's id
                found.add(path_)
    return sorted(found - NOT_IMPORTS)


def resolve(dotted: str) -> object:
    """Import the longest module prefix of ``dotted`` and read the rest as attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            obj = getattr(obj, attribute)
        return obj
    raise ModuleNotFoundError(dotted)


def test_the_docs_cite_import_paths():
    assert len(cited()) > 50


@pytest.mark.parametrize("dotted", cited())
def test_every_cited_path_resolves(dotted):
    assert resolve(dotted) is not None


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_a_moved_module_keeps_its_old_path_as_the_same_module(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(new)):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


def test_an_old_path_works_in_a_fresh_process_through_from_import():
    code = (
        "import warnings; warnings.simplefilter('error', DeprecationWarning)\n"
        "try:\n"
        "    from django_xunchen import spool\n"
        "except DeprecationWarning as w:\n"
        "    print('warned', w)\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "from django_xunchen import spool\n"
        "import django_xunchen.outcomes.spool as new\n"
        "print(spool is new)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "warned django_xunchen.spool moved to django_xunchen.outcomes.spool" in done.stdout
    assert done.stdout.strip().endswith("True")


def test_no_moved_path_is_also_a_real_module():
    for old in MOVED:
        relative = old.replace(".", "/")
        assert not (ROOT / f"{relative}.py").exists(), old
        assert not (ROOT / relative / "__init__.py").exists(), old
