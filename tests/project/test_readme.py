"""The README's install snippet, pasted into a project made by ``django-admin
startproject``, migrates, passes ``check`` and sends an SMS (to the fake gateway)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from django_xunchen.fake_gateway import FakeGateway

#: It runs Django in a project of its own, where mutmut's trampolines cannot find their
#: configuration: ``make mutation`` leaves it out with the other packaging tests.
pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]


def python_blocks_after(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_install_snippet_works_in_a_fresh_project(tmp_path):
    settings_snippet, usage = python_blocks_after("## Install")[:2]
    assert "INSTALLED_APPS" in settings_snippet and "send_sms" in usage
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "shop", str(tmp_path)], check=True
    )
    settings_file = tmp_path / "shop" / "settings.py"
    settings_file.write_text(settings_file.read_text() + "\n" + settings_snippet)
    with FakeGateway(seed=3) as gateway:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "XUNCHEN_", "DATABASE_URL"))
        }
        env.update(
            {
                "PYTHONPATH": str(ROOT),
                "XUNCHEN_BASE_URL": gateway.url,
                "XUNCHEN_USERNAME": gateway.account.username,
                "XUNCHEN_PASSWORD": gateway.account.password,
                "XUNCHEN_VERY_CODE": gateway.account.very_code,
            }
        )

        def run(*args: str) -> str:
            done = subprocess.run(
                [*manage, *args], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
            return done.stdout

        run("migrate", "--noinput", "-v", "0")
        run("check")
        out = run("shell", "-c", usage + "\nprint('status:', messages[0].status)")
        assert "status: sent" in out
        rows = run(
            "shell",
            "-c",
            "from django_xunchen.models import Message\n"
            "for m in Message.objects.order_by('pk'): "
            "print(m.kind, m.status, m.hold_until is not None)",
        ).split("\n")
        kind, status, held = rows[-2].split()
        expected = ["13800138000", "13900000000"]
        if status == "queued":  # 21:00 to 08:00 China time: quiet hours for marketing
            assert (kind, held) == ("marketing", "True")
        else:
            assert (kind, status) == ("marketing", "sent")
            expected.append("13800138000")
        assert sorted(m for s in gateway.submissions for m in s.mobiles) == sorted(expected)
