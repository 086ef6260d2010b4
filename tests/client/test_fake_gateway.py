"""The client against the fake gateway over real HTTP on loopback."""

import datetime as dt
import socket
import subprocess
import sys
import urllib.request
from decimal import Decimal

import pytest

from django_xunchen.client import CHINA_TZ, XunchenClient
from django_xunchen.exceptions import (
    BlockedWordsError,
    InsufficientBalanceError,
    InvalidAccountError,
    InvalidVeryCodeError,
    IPNotAllowedError,
    MalformedResponseError,
    NotSentError,
    OutcomeUnknownError,
    TemplateNotFoundError,
)
from django_xunchen.fake_gateway import Account, FakeGateway


@pytest.fixture
def gateway():
    with FakeGateway(blocked_words=["赌博"], seed=1) as gw:
        gw.add_template("JSM40001-0001", "尊敬的@1@@2@,您的验证码为@3@，请及时输入。")
        yield gw


@pytest.fixture
def client(gateway):
    with XunchenClient(gateway.base_url, *gateway.credentials, timeout=(2, 2)) as c:
        yield c


def test_balance_goes_down_as_messages_are_accepted(gateway, client):
    assert client.get_balance().amount == Decimal("5000")
    client.send(["13800138000", "13900000000"], "hello")
    balance = client.get_balance()
    assert balance.amount == Decimal("4999.8")
    assert balance.messages == 49998


def test_send_and_reports_once_only(gateway, client):
    result = client.send(["13800138000", "13900000000"], "您好")
    assert len(result.msgid) == 32
    (submission,) = gateway.submissions
    assert submission.method == "sendUtf8Msg"
    assert submission.text == "您好"
    reports = client.query_reports()
    assert {(r.mobile, r.msgid, r.delivered) for r in reports} == {
        ("13800138000", result.msgid, True),
        ("13900000000", result.msgid, True),
    }
    assert client.query_reports() == []


def test_template_send_is_rendered(gateway, client):
    client.send("13800138000", template_id="JSM40001-0001", params=["李先生", "您好", "928371"])
    assert gateway.submissions[0].text == "尊敬的李先生您好,您的验证码为928371，请及时输入。"
    assert gateway.submissions[0].msgtype == 2


def test_unknown_template(gateway, client):
    with pytest.raises(TemplateNotFoundError):
        client.send("13800138000", template_id="NOPE", params=["a"])


def test_gbk_send(gateway):
    with XunchenClient(gateway.base_url, *gateway.credentials, encoding="gbk") as c:
        c.send("13800138000", "退订回T，谢谢")
    assert gateway.submissions[0].method == "sendGbkMsg"
    assert gateway.submissions[0].text == "退订回T，谢谢"


def test_gbk_responses_under_utf8_declaration():
    with FakeGateway(response_encoding="gbk") as gw:
        gw.inject_reply("13800138000", "收到，谢谢")
        with XunchenClient(gw.base_url, *gw.credentials) as c:
            assert c.query_inbound()[0].content == "收到，谢谢"


def test_scheduled_send_reports_after_the_send_time(gateway, client):
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    client.send("13800138000", "later", send_at=at)
    assert gateway.submissions[0].sendtime == at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")
    assert client.query_reports() == []
    assert gateway.state.pending_reports() == 1


def test_extcode_and_replies_once_only(gateway, client):
    client.send("13800138000", "reply please", extcode="0001")
    assert gateway.submissions[0].extcode == "0001"
    gateway.inject_reply("13800138000", "好的", "0001")
    (reply,) = client.query_inbound()
    assert reply.recvcode == gateway.account.sender + "0001"
    assert reply.content == "好的"
    assert client.query_inbound() == []


def test_failure_reports():
    with FakeGateway(undeliverable=["13900000000"]) as gw:
        with XunchenClient(gw.base_url, *gw.credentials) as c:
            c.send(["13800138000", "13900000000"], "hi")
            statuses = {r.mobile: (r.status, r.delivered) for r in c.query_reports()}
    assert statuses["13800138000"] == ("DELIVRD", True)
    assert statuses["13900000000"][1] is False
    assert statuses["13900000000"][0] in ("MA:0006", "UNDELIV", "EXPIRED")


def test_report_delay():
    with FakeGateway(report_delay=60) as gw, XunchenClient(gw.base_url, *gw.credentials) as c:
        c.send("13800138000", "hi")
        assert c.query_reports() == []
        gw.deliver_now()
        assert len(c.query_reports()) == 1


def test_blocked_words(gateway, client):
    with pytest.raises(BlockedWordsError) as info:
        client.send("13800138000", "网上赌博")
    assert info.value.words == ["赌博"]
    assert gateway.submissions == []


def test_insufficient_balance():
    with FakeGateway(account=Account(balance=Decimal("0.1"))) as gw:
        with XunchenClient(gw.base_url, *gw.credentials) as c:
            c.send("13800138000", "one")
            with pytest.raises(InsufficientBalanceError):
                c.send("13800138000", "two")


def test_wrong_credentials(gateway):
    username, password, very_code = gateway.credentials
    with pytest.raises(InvalidAccountError):
        XunchenClient(gateway.base_url, username, "wrong", very_code).get_balance()
    bad_key = XunchenClient(gateway.base_url, username, password, "wrong")
    with pytest.raises(InvalidVeryCodeError) as info:
        bad_key.get_balance()
    assert info.value.code == "105"
    with pytest.raises(InvalidVeryCodeError) as info:
        bad_key.send("13800138000", "x")
    assert info.value.code == "116"


def test_ip_allow_list():
    with FakeGateway(account=Account(allowed_ips=("10.9.9.9",))) as gw:
        with XunchenClient(gw.base_url, *gw.credentials) as c:
            with pytest.raises(IPNotAllowedError):
                c.send("13800138000", "x")


def test_latency_fault_is_outcome_unknown_and_the_send_happened(gateway, client):
    gateway.inject_fault("latency", seconds=3, method="sendUtf8Msg")
    with pytest.raises(OutcomeUnknownError):
        client.send("13800138000", "slow")
    assert len(gateway.submissions) == 1


def test_dropped_connection_after_processing(gateway, client):
    gateway.inject_fault("drop", method="sendUtf8Msg")
    with pytest.raises(OutcomeUnknownError) as info:
        client.send("13800138000", "x")
    assert not isinstance(info.value, NotSentError)
    assert len(gateway.submissions) == 1


@pytest.mark.parametrize("kind", ["http500", "truncated", "garbage"])
def test_broken_responses(gateway, client, kind):
    gateway.inject_fault(kind, method="sendUtf8Msg")
    with pytest.raises(MalformedResponseError):
        client.send("13800138000", "x")
    client.send("13800138000", "the next request is fine")


def test_fault_before_processing_sends_nothing(gateway, client):
    gateway.inject_fault("http500", after_processing=False)
    with pytest.raises(MalformedResponseError):
        client.send("13800138000", "x")
    assert gateway.submissions == []


def test_truncated_report_response_loses_the_reports_as_the_real_one_would(gateway, client):
    client.send("13800138000", "x")
    gateway.inject_fault("truncated", method="queryReport")
    with pytest.raises(MalformedResponseError):
        client.query_reports()
    assert client.query_reports() == []


def test_connection_refused_is_not_sent(refusing_url):
    with pytest.raises(NotSentError):
        XunchenClient(refusing_url, "u", "p", "k", timeout=1).send("13800138000", "x")


def test_command_line_serve_reply_and_fault(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "django_xunchen.fake_gateway"]
    server = subprocess.Popen(
        [
            *cmd,
            "--port",
            str(port),
            "--report-delay",
            "0",
            "--inject-reply",
            "13700000000::早上好",
            "--template",
            "T1=码@1@",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "Fake Xunchen gateway" in server.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        c = XunchenClient(base, "JSM40001", "123456", "453245")
        subprocess.run(
            [*cmd, "reply", "--port", str(port), "13800138000", "退订", "--extcode", "12"],
            check=True,
            capture_output=True,
        )
        replies = c.query_inbound()
        assert [(r.mobile, r.content) for r in replies] == [
            ("13700000000", "早上好"),
            ("13800138000", "退订"),
        ]
        assert replies[1].recvcode.endswith("12")
        c.send("13800138000", template_id="T1", params=["42"])
        subprocess.run(
            [*cmd, "fault", "--port", str(port), "http500"], check=True, capture_output=True
        )
        with pytest.raises(MalformedResponseError):
            c.get_balance()
        with urllib.request.urlopen(f"{base}/fake/state", timeout=5) as r:  # noqa: S310
            assert b'"submissions": 1' in r.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_gateway_stops_cleanly():
    gw = FakeGateway().start()
    thread = gw._thread
    gw.stop()
    thread.join(10)
    assert not thread.is_alive(), "the server thread ended"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", gw.port))  # the port is free again


def test_connect_timeout_is_not_sent(unreachable_url):
    client = XunchenClient(unreachable_url, "u", "p", "k", timeout=(0.5, 5))
    with pytest.raises(NotSentError, match="timed out"):
        client.send("13800138000", "x")
