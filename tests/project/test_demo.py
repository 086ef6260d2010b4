"""`make demo` end to end: the example project, the fake gateway, the poller, runserver."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.demo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_project"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, every=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(every)
    raise AssertionError("timed out")


def group_gone(pgid: int) -> bool:
    """No process of the demo's process group is left (the gateway, the poller, the web
    server): a check that no other process on the machine can disturb, as a port can."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


def start_demo(tmp_path):
    """The demo on two free ports. A port is free when chosen but may be taken before the
    demo binds it; the demo then exits at once saying so, and new ports are tried."""
    for _ in range(5):
        web, gateway = free_port(), free_port()
        env = {
            **os.environ,
            "DEMO_PORT": str(web),
            "DEMO_GATEWAY_PORT": str(gateway),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
            "XUNCHEN_SPOOL_DIR": str(tmp_path / "spool"),
            "XUNCHEN_BASE_URL": f"http://127.0.0.1:{gateway}",
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "PYTHONPATH": str(EXAMPLE),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "demo.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        login = f"http://127.0.0.1:{web}/admin/login/"
        wait_for(lambda p=proc, url=login: p.poll() is not None or http_ok(url))
        if proc.poll() is None:
            return proc, env, web, gateway
        output = proc.communicate()[0]
        # Only a port taken is tried again: the demo's own refusal, or runserver's.
        taken = ("is in use (another demo running?)", "That port is already in use")
        assert any(line in output for line in taken), output
    raise AssertionError(f"no free ports for the demo after 5 tries:\n{output}")


@pytest.fixture
def demo(tmp_path):
    proc, env, web, gateway = start_demo(tmp_path)
    try:
        yield proc, env, web, gateway
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def manage(env, *args) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def locks_left(env) -> str:
    query = (
        "from django_xunchen.models import PollLock; "
        "print(list(PollLock.objects.exclude(name='django_xunchen.tick')"
        ".values_list('name', 'owner')))"
    )
    return manage(env, "shell", "-v", "0", "-c", query).strip()


def test_demo_sends_delivers_handles_replies_and_stops_on_ctrl_c(demo):
    proc, env, web, gateway = demo
    wait_for(lambda: http_ok(f"http://127.0.0.1:{web}/admin/login/"))
    out = manage(
        env,
        "send_sms",
        "--to",
        "13800138000",
        "--template",
        "JSM40001-0001",
        "--param",
        "1=张三",
        "--param",
        "2=1234",
        "--kind",
        "verification",
    )
    assert "\tsent\t" in out
    manage(env, "send_sms", "--to", "13800138001", "--content", "您的订单已发货")
    status = (
        "from django_xunchen.models import Message; "
        "print(sorted(Message.objects.values_list('account', 'status')))"
    )
    wait_for(
        lambda: (
            manage(env, "shell", "-v", "0", "-c", status).strip()
            == "[('codes', 'delivered'), ('default', 'delivered')]"
        )
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django_xunchen.fake_gateway",
            "reply",
            "--port",
            str(gateway),
            "13800138000",
            "退订",
            "--username",
            "JSM40002",
        ],
        check=True,
        capture_output=True,
        env=env,
    )
    opted_out = (
        "from django_xunchen.models import Consent, Suppression; "
        "print(Suppression.objects.filter(source='reply').count(), "
        "Consent.objects.filter(source='reply', granted=False).count())"
    )
    wait_for(lambda: manage(env, "shell", "-v", "0", "-c", opted_out).strip() == "1 1")
    assert http_ok(f"http://127.0.0.1:{web}/sms/consent/"), "the double opt-in page"
    hooks = (
        "from django_xunchen.models import WebhookDelivery; "
        "print(' '.join(sorted(set(WebhookDelivery.objects.filter(status='delivered')"
        ".values_list('event__type', flat=True)))))"
    )
    wanted = {"message.sent", "message.delivered", "reply.received", "suppression.added"}
    wait_for(lambda: wanted <= set(manage(env, "shell", "-v", "0", "-c", hooks).split()))

    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "user 'admin', password 'admin'" in output
    assert f"http://127.0.0.1:{web}/admin/" in output
    assert "webhook received: message.delivered" in output, "signed, and verified by the demo"
    assert not http_ok(f"http://127.0.0.1:{web}/admin/login/")
    wait_for(lambda: group_gone(proc.pid), timeout=10)  # the gateway and poller too
    assert locks_left(env) == "[]", "Ctrl-C leaves no poll lock behind"


def test_demo_twice_on_the_same_database_is_fine(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'again.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
    }
    for _ in range(2):
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "seed_demo", "--template", "T1=@1@")
    count = (
        "from django_xunchen.models import Template; "
        "print(sorted(Template.objects.values_list('account', 'template_id')))"
    )
    assert manage(env, "shell", "-v", "0", "-c", count).strip() == (
        "[('codes', 'T1'), ('default', 'T1')]"
    )


def test_sigterm_to_the_demo_alone_stops_its_children(demo):
    proc, _env, web, _gateway = demo
    wait_for(lambda: http_ok(f"http://127.0.0.1:{web}/admin/login/"))
    proc.send_signal(signal.SIGTERM)  # only the parent, as a process manager would
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    wait_for(lambda: group_gone(proc.pid), timeout=10)
    assert not http_ok(f"http://127.0.0.1:{web}/admin/login/")
    assert locks_left(_env) == "[]", "SIGTERM leaves no poll lock behind"


def shell(env, code: str) -> str:
    return manage(env, "shell", "-v", "0", "-c", code).strip()


def test_a_campaign_confirmed_in_the_demo_reaches_done_without_a_look(demo):
    """Its rows go out through the task worker (not the confirm, not the poller, which
    leaves fresh rows to the worker), and the campaign turns done with nobody on its
    page."""
    _proc, env, web, _gateway = demo
    wait_for(lambda: http_ok(f"http://127.0.0.1:{web}/admin/login/"))
    created = shell(
        env,
        "import io; from django_xunchen import campaigns; "
        "from django_xunchen.models import Campaign; "
        "c = Campaign.objects.create(name='demo', kind='notification', content='@1@您好'); "
        "campaigns.stage(c, io.BytesIO('13800138000,张三\\n13900139000,李四\\n'.encode()), "
        "'a.csv'); campaigns.confirm(c); print(Campaign.objects.get().state)",
    )
    assert created == "running"
    state = "from django_xunchen.models import Campaign; print(Campaign.objects.get().state)"
    wait_for(lambda: shell(env, state) == "done", timeout=60)
    by_worker = (
        "from django_tasks_db.models import DBTaskResult; print(DBTaskResult.objects.filter("
        "task_path__endswith='send_messages', status='SUCCESSFUL').count())"
    )
    assert int(shell(env, by_worker)) >= 1


@pytest.mark.main_step_only
def test_pause_and_cancel_while_the_worker_sends_3000_rows(demo, chromium, tmp_path):
    """On SQLite, with the worker writing all the while: every page answers, pause holds,
    and nothing is submitted after the cancel commits."""
    _proc, env, web, gateway = demo
    base = f"http://127.0.0.1:{web}"
    wait_for(lambda: http_ok(f"{base}/admin/login/"))
    file = tmp_path / "3000.csv"
    rows = "".join(f"13800{i:06d},客户{i}\n" for i in range(3000))
    file.write_text("手机号码,姓名\n" + rows, encoding="utf-8")
    submitted = f"http://127.0.0.1:{gateway}/fake/state"

    def submissions():
        with urllib.request.urlopen(submitted, timeout=5) as answer:
            return json.load(answer)["submissions"]

    page = chromium.new_context(locale="en-US").new_page()
    page.set_default_timeout(30000)
    failures = []
    page.on("response", lambda r: r.status >= 500 and failures.append((r.status, r.url)))
    page.goto(f"{base}/admin/login/?next=/admin/django_xunchen/campaign/add/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin")
    page.click("input[type=submit]")
    page.fill("#id_name", "3000")
    page.select_option("#id_kind", "notification")
    page.fill("#id_content", "@1@您好，会员日全场五折")
    page.set_input_files("#id_file", str(file))
    page.click("input[name=_save]")
    page.wait_for_selector("#campaign-confirm")
    page.click("#campaign-confirm")
    page.click("#campaign-pause")
    assert "held" in page.inner_text(".messagelist")
    statuses = (
        "import json; from collections import Counter; from django_xunchen.models import "
        "Message; print(json.dumps(Counter(Message.objects.values_list('status', flat=True)), "
        "sort_keys=True))"
    )
    wait_for(lambda: '"sending"' not in shell(env, statuses), timeout=30)
    held, sent = json.loads(shell(env, statuses))["queued"], submissions()
    time.sleep(3)
    assert json.loads(shell(env, statuses))["queued"] == held, "nothing moves while paused"
    assert submissions() == sent, "nothing reaches the gateway while paused"
    page.click("#campaign-resume")
    assert "released" in page.inner_text(".messagelist")
    time.sleep(2)  # the worker sends again meanwhile
    page.click("#campaign-cancel")
    page.click("#campaign-cancel-confirm")
    assert "cancelled" in page.inner_text(".messagelist")
    wait_for(lambda: '"sending"' not in shell(env, statuses), timeout=30)
    counts = json.loads(shell(env, statuses))
    assert counts.get("cancelled", 0) > 0 and "queued" not in counts, counts
    first = submissions()
    time.sleep(3)
    assert submissions() == first == 3000 - counts["cancelled"], counts
    assert failures == []
