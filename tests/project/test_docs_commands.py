"""The commands the docs give, as written: every cron line changes into the project and
names its interpreter, calls a command that exists with arguments it takes, and alerts
with commands a machine has; the ones that need no gateway run, in the example project;
and no page says to install a package PyPI does not have yet."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "README.zh-Hans.md",
    ROOT / "example_project" / "crontab.example",
    *sorted((ROOT / "docs").glob("*.rst")),
]
#: A cron line: five schedule fields, then the command.
CRON = re.compile(r"^\s*((?:[\d*/,-]+\s+){5})(\S.*)$")
PREFIX = "cd /srv/app && .venv/bin/python manage.py "
#: What a cron line may run after ``||`` or ``|``: commands every mail-capable host has.
ALERTS = {"echo", "mail", "logger"}


def cron_lines() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for line in page.read_text(encoding="utf-8").splitlines():
            match = CRON.match(line)
            if match and "manage.py" in line:
                found.append((f"{page.relative_to(ROOT)}: {line.strip()}", match.group(2)))
    return found


LINES = cron_lines()


def test_the_pages_have_cron_lines():
    assert len(LINES) >= 12, LINES


@pytest.mark.parametrize("command", [c for _w, c in LINES], ids=[w for w, _c in LINES])
def test_a_cron_line_names_its_folder_interpreter_and_real_commands(command):
    assert command.startswith(PREFIX), "cd into the project, then the venv's interpreter"
    managed, *alerts = re.split(r"\s*(?:\|\||\|)\s*", command[len("cd /srv/app && ") :])
    for alert in alerts:
        assert shlex.split(alert)[0] in ALERTS, alert
    parses(shlex.split(managed.split(">")[0])[2:])


@pytest.mark.parametrize("name", ["send_queued", "sms_cleanup"])
def test_the_commands_that_need_no_gateway_run_as_written(name, tmp_path):
    written = next(c for _w, c in LINES if f"manage.py {name}" in c)
    argv = shlex.split(written[len(PREFIX) :].split(">")[0])
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "XUNCHEN_SPOOL_DIR": str(tmp_path / "spool"),
    }
    manage = [sys.executable, "manage.py"]
    cwd = ROOT / "example_project"
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=cwd, env=env, check=True)
    done = subprocess.run([*manage, *argv], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_systemd_units_run_a_real_command_from_the_project():
    page = (ROOT / "docs" / "monitoring.rst").read_text(encoding="utf-8")
    starts = re.findall(r"^\s*ExecStart=(.*)$", page, re.M)
    assert starts and "WorkingDirectory=/srv/app" in page
    for command in starts:
        assert command.startswith("/srv/app/.venv/bin/python manage.py "), command
        parses(shlex.split(command)[2:])


def parses(words: list[str]) -> None:
    """``words`` (a command's name and arguments) are what that command takes."""
    from django.core.management import get_commands, load_command_class

    name, arguments = words[0], words[1:]
    app = get_commands().get(name)
    assert app is not None, f"no command {name!r}"
    load_command_class(app, name).create_parser("manage.py", name).parse_args(arguments)


def test_no_page_installs_what_pypi_does_not_have_yet():
    bare = re.compile(r"pip install (?:--upgrade )?[\"']?django-xunchen(?:\[|[\"'\s]|$)")
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if "later:" not in line:
                assert not bare.search(line), f"{page.relative_to(ROOT)}:{number}: {line}"
