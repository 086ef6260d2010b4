"""The API page's examples (docs/examples/api/), run as written against a live server:
curl through ``sh``, Python through this interpreter, each given the API's URL and a key
in XUNCHEN_API_URL and XUNCHEN_API_KEY, and what they print checked. The Go example is
only shown: it is compiled when Go is installed."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.httpapi import openapi
from django_xunchen.httpapi.errors import CODES
from django_xunchen.httpapi.keys import create_key
from django_xunchen.models import ApiRequest, Message

from ..conftest import skip_unless_required

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples" / "api"
PAGE = ROOT / "docs" / "api.rst"


@pytest.fixture
def run(live_server):
    """``run(name, *args, key=…)``: the example's exit status and what it printed."""

    def call(name, *args, key, check=True):
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(XUNCHEN_API_URL=f"{live_server.url}/sms/api", XUNCHEN_API_KEY=key)
        path = EXAMPLES / name
        command = ["sh", str(path)] if name.endswith(".sh") else [sys.executable, str(path)]
        done = subprocess.run(
            [*command, *map(str, args)], env=env, capture_output=True, text=True, timeout=120
        )
        if check:
            assert done.returncode == 0, done.stderr + done.stdout
        return done

    return call


@pytest.fixture
def curl():
    if shutil.which("curl") is None:
        skip_unless_required("curl is not installed (apt-get install curl)", "XUNCHEN_REQUIRE_CURL")


def deliver():
    """The handsets receive everything sent, and the reports are polled."""
    locmem.deliver_all()
    poll(inbound=False, force=True)


def test_the_page_shows_every_example():
    page = PAGE.read_text(encoding="utf-8")
    shown = set(re.findall(r"^\.\. literalinclude:: examples/api/(\S+)$", page, re.M))
    assert shown == {p.name for p in EXAMPLES.iterdir()}


def test_the_error_table_lists_every_code_with_its_status():
    section = PAGE.read_text(encoding="utf-8").split("\nErrors\n------\n")[1]
    rows = re.findall(r"^   \* - ``(\w+)``\n     - ([^\n]+)$", section, re.M)
    table = {code: status for code, status in rows}
    assert len(table) == len(rows), "each code once"
    assert set(table) == {c for _cls, _s, c in CODES} | openapi.API_CODES
    for _cls, status, code in CODES:
        assert str(status) in table[code].split(" or "), code


def test_curl_sends_once_per_idempotency_key(curl, run, xunchen_outbox):
    key = create_key("orders", scopes=["send"])[1]
    first = run("send.sh", key=key)
    again = run("send.sh", key=key)
    # The same JSON (PostgreSQL's jsonb keeps the stored answer's keys in its own order).
    assert json.loads(first.stdout) == json.loads(again.stdout), "the first answer, again"
    (sent,) = json.loads(first.stdout)["messages"]
    assert sent["mobile"] == "13800138000" and sent["status"] == "sent"
    assert sent["tags"] == ["orders"] and sent["metadata"] == {"order": 1042}
    assert len(xunchen_outbox) == 1 and Message.objects.count() == 1
    assert set(ApiRequest.objects.values_list("idempotency_key", flat=True)) == {
        "order-1042-shipped"
    }


def test_curl_shows_a_refusal_and_fails(curl, run):
    key = create_key("reports", scopes=["read"])[1]
    refused = run("send.sh", key=key, check=False)
    assert refused.returncode == 22, "curl --fail-with-body: exit 22, the body printed"
    assert json.loads(refused.stdout) == {
        "error": {"code": "scope_missing", "message": "the key lacks the 'send' scope"}
    }
    assert not Message.objects.exists()


def test_curl_reads_a_message_and_lists_delivered_ones(curl, run):
    sent = run("send.sh", key=create_key("orders", scopes=["send"])[1])
    pk = json.loads(sent.stdout)["messages"][0]["id"]
    send_sms(["13900139000"], "另一条", tags=["orders"])  # sent, not delivered
    deliver()
    send_sms(["13700137000"], "还没送达", tags=["orders"])
    done = run("status.sh", pk, key=create_key("reports", scopes=["read"])[1])
    one, listed = (json.loads(line) for line in done.stdout.splitlines())
    assert one["id"] == pk and one["status"] == "delivered" and one["report_status"]
    assert [m["mobile"] for m in listed["messages"]] == ["13900139000", "13800138000"]
    assert listed["next"] is None


def test_python_sends_once_per_order(run, xunchen_outbox):
    key = create_key("orders", scopes=["send"])[1]
    first = run("send.py", 1042, "13800138000", key=key)
    again = run("send.py", 1042, "13800138000", key=key)
    pk = Message.objects.get().pk
    assert first.stdout == again.stdout == f"order 1042: message {pk} to 13800138000 sent\n"
    assert len(xunchen_outbox) == 1
    other = run("send.py", 1043, "13800138000", key=key)
    assert other.stdout.startswith("order 1043: message ") and len(xunchen_outbox) == 2


def test_python_raises_the_apis_refusal(run):
    key = create_key("orders", scopes=["send"], kinds=["marketing"])[1]
    refused = run("send.py", 1042, "13800138000", key=key, check=False)
    assert refused.returncode == 1
    assert "SMSError: 403 kind_not_allowed: the key may not send notification messages" in (
        refused.stderr
    )


def test_python_pages_through_a_tag(run):
    send_sms([f"1380013{i:04d}" for i in range(205)], "您的订单已发货", tags=["orders"])
    deliver()
    send_sms([f"1390013{i:04d}" for i in range(3)], "您的订单已发货", tags=["orders"])
    send_sms(["13700137000"], "会员日", tags=["members"])
    done = run("messages.py", "orders", key=create_key("reports", scopes=["read"])[1])
    assert done.stdout == "delivered: 205\nsent: 3\n"
    pages = ApiRequest.objects.filter(path="/sms/api/v1/messages", status=200).count()
    assert pages == 2, "200 to a page"


def test_python_sends_and_checks_a_login_code(run, xunchen_last_code):
    key = create_key("login", scopes=["codes"])[1]
    assert run("codes.py", "send", "13800138000", "203.0.113.9", key=key).stdout == "sent\n"
    code = xunchen_last_code("13800138000")
    wrong = "000000" if code != "000000" else "111111"
    assert run("codes.py", "check", "13800138000", wrong, key=key).stdout == "wrong code\n"
    assert run("codes.py", "check", "13800138000", code, key=key).stdout == "verified\n"
    assert run("codes.py", "check", "13800138000", code, key=key).stdout == "wrong code\n", (
        "used up"
    )
    waited = run("codes.py", "send", "13800138000", "203.0.113.9", key=key).stdout
    assert re.fullmatch(r"wait \d+ s\n", waited), "the cooldown"


def test_the_go_example_sends_with_an_idempotency_key(tmp_path):
    source = (EXAMPLES / "send.go").read_text(encoding="utf-8")
    assert '"/v1/messages"' in source and 'Header.Set("Idempotency-Key"' in source
    assert 'Header.Set("Authorization", "Bearer "+key)' in source
    go = shutil.which("go")
    if go is None:
        return  # shown, not run: compiled only where Go is installed
    shutil.copy(EXAMPLES / "send.go", tmp_path / "main.go")
    env = {**os.environ, "GO111MODULE": "off", "GOCACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        [go, "vet", "main.go"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
