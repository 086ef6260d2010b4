import contextlib
import datetime as dt
import os
import shutil
import uuid

import pytest
from django.db import connection

from django_xunchen.fake_gateway import FakeGateway
from django_xunchen.fake_gateway.state import Account

NO_SKIPS = "XUNCHEN_NO_SKIPS"
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def skip_unless_required(reason: str, switch: str) -> None:
    """Skip with ``reason``, or fail when ``switch`` (an environment variable) is 1."""
    if os.environ.get(switch) == "1":
        pytest.fail(f"{reason} (required: {switch}=1)")
    pytest.skip(reason)


def pytest_configure(config):
    from tests import template_db

    template_db.install()


@pytest.hookimpl(tryfirst=True)  # before pytest-django's: its stable sort keeps Django's order
def pytest_collection_modifyitems(config, items):
    from tests import fastest_first

    fastest_first.order(items)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres_only") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the PostgreSQL step of make test runs it")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With XUNCHEN_NO_SKIPS=1 (CI), a skipped test is a failure: nothing CI requires
    may pass by not running."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get(NO_SKIPS) == "1" and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped, but {NO_SKIPS}=1 forbids skips: {reason}"


@pytest.fixture(autouse=True)
def no_webhook_subscriptions(monkeypatch):
    """Each test starts knowing its empty endpoint table, as a process that read it a
    moment ago would: no query for it in the tests that count them, however long the
    test takes on a slow machine (the process's trust in what it read does not run out
    within a test: a count of queries around a poll of thousands of reports once met
    the re-read). Saving an endpoint makes the process read them again."""
    from django_xunchen.webhooks import events

    monkeypatch.setattr(events, "SUBSCRIPTIONS_TTL", 3600.0)
    events._subscriptions.assume(frozenset())
    yield
    events.forget_subscriptions()


@pytest.fixture(autouse=True)
def site_language():
    """Each test starts in the site's language. Django's test client leaves the language
    of the last request active in the thread (LocaleMiddleware activates it and nothing
    deactivates it), so a test that asked for a page in Chinese would hand Chinese to
    whichever test ran next."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def isolated_spool(tmp_path, monkeypatch):
    """Each test gets its own outcome spool (unless it sets SPOOL_DIR), so no test
    applies another's files."""
    from pathlib import Path

    from django.conf import settings

    from django_xunchen.conf import xunchen_settings
    from django_xunchen.outcomes import spool
    from django_xunchen.outcomes import write as outcomes

    folder = tmp_path / "spool"

    def spool_dir():
        configured = xunchen_settings()["SPOOL_DIR"]
        if not configured or configured == settings.TEST_SPOOL_DIR:
            return folder
        return Path(configured)

    monkeypatch.setattr(spool, "spool_dir", spool_dir)
    monkeypatch.setattr(outcomes, "_applied_in_process", False)
    return folder


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def gateway(settings):
    """A fake gateway on a free port, with XUNCHEN pointed at it."""
    with FakeGateway(seed=7) as gw:
        gw.add_template("JSM40001-0001", "尊敬的@1@,您的验证码为@2@，请及时输入。")
        settings.XUNCHEN = {
            **gw.account_settings(),
            "POLL_INTERVAL": 0,
            "TIMEOUT": (2, 2),
        }
        yield gw


@pytest.fixture
def two_logins(settings):
    """A fake gateway with two logins, A (default) and B (codes), polled at once."""
    with FakeGateway(
        accounts=[
            Account(username="A", sender="10690001"),
            Account(username="B", password="pw-b", very_code="vc-b", sender="10690002"),
        ],
        seed=3,
    ) as gw:
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "ACCOUNTS": {"default": gw.account_settings("A"), "codes": gw.account_settings("B")},
            "ROUTES": {"verification": "codes"},
            "TIMEOUT": (2, 2),
        }
        yield gw


@pytest.fixture
def three_accounts(settings):
    """The usual set-up: codes, notices on default, marketing; on the locmem backend."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1"},
            "codes": {"BACKEND": LOCMEM, "USERNAME": "C1"},
            "marketing": {"BACKEND": LOCMEM, "USERNAME": "M1", "FALLBACK": "codes"},
        },
        "ROUTES": {"verification": "codes", "marketing": "marketing"},
        "USERNAME": "",
        "PASSWORD": "",
        "VERY_CODE": "",
    }


@pytest.fixture
def events():
    """Every signal the app sends during the test, as (name, kwargs)."""
    from django_xunchen import signals

    received = []
    names = [
        "message_sent",
        "message_failed",
        "report_received",
        "report_matched",
        "inbound_received",
    ]
    handlers = {}
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            received.append((_name, kwargs))

        handlers[name] = handler
        getattr(signals, name).connect(handler, weak=False)
    yield received
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


@pytest.fixture
def refusing_url():
    """An http:// URL whose port is held by a bound socket that never listens: every
    connect is refused at once, and no other process can take the port meanwhile."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def unreachable_url():
    """An http:// URL whose connect times out: a listening socket with a full accept
    queue, so the kernel drops further SYNs and the request never leaves."""
    import socket
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    for sock in [*fillers, server]:
        sock.close()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def chromium():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        skip_unless_required(
            "Chromium is not installed (apt-get install chromium)", "XUNCHEN_REQUIRE_BROWSER"
        )
    try:
        from playwright import sync_api
    except ImportError:
        skip_unless_required(
            "Playwright is not installed (pip install -e '.[test]')", "XUNCHEN_REQUIRE_BROWSER"
        )
    # Playwright's sync API runs an event loop in this thread; Django refuses database
    # calls from such a thread unless told otherwise. Only for as long as the browser runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def session_text(session_data: str) -> str:
    """What a row of ``django_session`` holds, decoded (without checking its signature):
    Django writes it signed and base64-encoded, zlib-compressed when that is shorter, so
    a search of the raw column would never see a code kept in a session."""
    import base64
    import zlib

    payload = session_data.split(":", 1)[0]
    encoded = payload.lstrip(".")
    data = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    return (zlib.decompress(data) if payload.startswith(".") else data).decode()


def _generated(column: str, value: object) -> bool:
    """Whether ``value`` is one the database or the clock made, whose digits may hold a
    short code by chance (a time's microseconds, a sequence's id): no code is stored there."""
    if isinstance(value, dt.date | dt.time | dt.timedelta | uuid.UUID):
        return True
    return isinstance(value, int) and (column == "id" or column.endswith("_id"))


def tables_holding(text: str) -> list[str]:
    """Every ``table.column`` of the test database whose value contains ``text``, in any
    row: the code of an SMS must be in none (the message is stored masked, the code
    as a keyed hash)."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if table == "django_session" and column == "session_data":
                        value = session_text(value)
                    if _generated(column, value):
                        continue
                    if value is not None and text in str(value):
                        found.append(f"{table}.{column}")
    return sorted(set(found))


@pytest.fixture
def code_nowhere():
    """``code_nowhere(code)`` fails naming every table and column that holds ``code``."""

    def check(code: str) -> None:
        assert code, "no code to look for"
        assert tables_holding(code) == [], f"the code is stored in clear: {tables_holding(code)}"

    return check
