"""django-allauth's phone sign-up and sign-in in the example project, in Chromium, its
codes sent through django-xunchen (docs/integrations/allauth.rst). The project runs as
its own server with the console backend, so the codes are read where a developer would
read them: the server's output. Then the database the server wrote is searched for
the codes: none may be in any table. The screenshot of the sign-in page goes to
$XUNCHEN_SCREENSHOTS (docs/_static/integrations/allauth-phone.png was made with
XUNCHEN_SCREENSHOTS=docs/_static/integrations), else to test-artifacts/screenshots."""

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ..conftest import session_text
from .test_demo import EXAMPLE, free_port, http_ok, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.demo]

#: Seconds between two codes to one number, short so that the test waits for it once.
COOLDOWN = 15
SENT = re.compile(r"您的验证码是([0-9A-Za-z]{4,16})")


@pytest.fixture
def allauth_server(tmp_path):
    pytest.importorskip("allauth")
    port = free_port()
    database = tmp_path / "allauth.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "XUNCHEN_BACKEND": "django_xunchen.backends.console.SMSBackend",
        "XUNCHEN_SPOOL_DIR": str(tmp_path / "spool"),
        "XUNCHEN_CODE_COOLDOWN": str(COOLDOWN),
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
        wait_for(lambda: proc.poll() is not None or http_ok(base + "/accounts/login/code/"))
        assert proc.poll() is None, "".join(lines)
        yield base, lines, database
    finally:
        proc.terminate()
        proc.wait(10)


def tables_holding(database: Path, text: str) -> list[str]:
    """Every ``table.column`` of the SQLite file ``database`` with a value containing
    ``text``, as bytes or text."""
    found = set()
    with sqlite3.connect(database) as connection:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    shown = value.decode(errors="replace") if isinstance(value, bytes) else value
                    if table == "django_session" and column == "session_data":
                        shown = session_text(shown)
                    if value is not None and text in str(shown):
                        found.add(f"{table}.{column}")
    return sorted(found)


def test_sign_up_and_sign_in_by_phone(chromium, allauth_server):
    base, output, database = allauth_server
    screenshots = Path(os.environ.get("XUNCHEN_SCREENSHOTS", "test-artifacts/screenshots"))
    screenshots.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 480, "height": 520}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)

    def codes() -> list[str]:
        return SENT.findall("".join(output))

    def code_number(n: int) -> str:
        return wait_for(lambda: len(codes()) >= n and codes()[n - 1], timeout=10, every=0.2)

    page.goto(base + "/login/phone/")
    page.click("#allauth-signup")
    page.fill("input[name=phone]", "+86 138 0013 8000")
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/phone/verify/")
    signup_code = code_number(1)
    sent_at = time.monotonic()
    page.fill("input[name=code]", signup_code)
    page.click("form button[type=submit]")
    page.wait_for_selector("#signed-in")
    assert page.inner_text("#phone") == "13800138000", "stored in the 11-digit form"

    page.click("#sign-out")
    page.wait_for_url("**/accounts/login/")

    # A second code to the number within COOLDOWN: the app's throttle refuses it,
    # and the user sees allauth's rate-limit answer, not an error.
    page.goto(base + "/accounts/login/code/")
    page.fill("input[name=phone]", "13800138000")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("form button[type=submit]")
    assert time.monotonic() - sent_at < COOLDOWN, "too slow to test the cooldown"
    assert refused.value.status == 429
    assert int(refused.value.headers["retry-after"]) >= 1
    page.wait_for_selector("#too-many-requests")
    time.sleep(1)
    assert len(codes()) == 1, "the refused code was not sent"

    time.sleep(max(0.0, COOLDOWN + 1 - (time.monotonic() - sent_at)))
    page.goto(base + "/accounts/login/code/")
    page.fill("input[name=phone]", "138-0013-8000")
    page.screenshot(path=str(screenshots / "allauth-phone.png"))
    page.click("form button[type=submit]")
    page.wait_for_url("**/accounts/login/code/confirm/")
    login_code = code_number(2)
    assert login_code != signup_code
    page.fill("input[name=code]", login_code)
    page.click("form button[type=submit]")
    page.wait_for_selector("#signed-in")
    assert page.inner_text("#phone") == "13800138000"
    context.close()
    assert len(codes()) == 2

    # Neither code is in any table: the Message rows hold the text masked, the
    # VerificationCode rows a keyed hash, and the sessions (decoded: allauth keeps the
    # code it waits for there, in clear, until the flow ends) no longer hold it.
    for code in (signup_code, login_code):
        assert tables_holding(database, code) == [], f"the code {code} is stored in clear"
    with sqlite3.connect(database) as connection:
        texts = [r[0] for r in connection.execute("SELECT content FROM django_xunchen_message")]
    assert len(texts) == 2
    assert all("您的验证码是●●●●●●" in text for text in texts), texts
