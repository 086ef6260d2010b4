"""The example project's phone login, in Chromium: ask for a code, see the countdown, type
a wrong code, then the right one, and be signed in. The example project runs as its own
server with the console backend, so the code is read where a developer would read it:
the server's output."""

import os
import re
import subprocess
import sys
import threading
import time

import pytest

from .test_demo import EXAMPLE, free_port, http_ok, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.demo]


@pytest.fixture
def example_server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'login.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "XUNCHEN_BACKEND": "django_xunchen.backends.console.SMSBackend",
        "XUNCHEN_SPOOL_DIR": str(tmp_path / "spool"),
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE,
        env=env,
        check=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=EXAMPLE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or http_ok(base + "/login/phone/"))
        assert proc.poll() is None, "".join(lines)
        yield base, lines
    finally:
        proc.terminate()
        proc.wait(10)


def test_phone_login(chromium, example_server):
    base, output = example_server
    context = chromium.new_context(viewport={"width": 480, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(base + "/login/phone/")
    page.fill("#id_mobile", "138 0013 8000")
    page.click("#get-code")
    page.wait_for_selector("#get-code:disabled")
    assert "验证码已发送" in page.inner_text("#code-note")
    assert re.fullmatch(r"(60|59|58) s", page.inner_text("#get-code"))
    time.sleep(1.2)
    assert re.fullmatch(r"(59|58|57|56) s", page.inner_text("#get-code")), "it counts down"

    def sent_code():
        found = re.findall(r"您的验证码是(\d{6})", "".join(output))
        return found[-1] if found else None

    code = wait_for(sent_code, timeout=10, every=0.2)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    page.fill("#id_code", wrong)
    page.click("#sign-in")
    page.wait_for_selector("#form-error")
    assert "验证码错误" in page.inner_text("#form-error"), "in the browser's language"
    assert page.is_disabled("#get-code"), "the reload keeps the cooldown"
    assert re.fullmatch(r"(5\d|4\d) s", page.inner_text("#get-code"))
    page.fill("#id_mobile", "13800138000")
    page.fill("#id_code", code)
    page.click("#sign-in")
    page.wait_for_selector("#signed-in")
    assert "13800138000" in page.inner_text("#signed-in")
    context.close()
