"""The wire: POST bodies, encodings, headers, and how transport failures are classified."""

import datetime as dt
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError, ProtocolError

from django_xunchen import __version__
from django_xunchen.client import XunchenClient
from django_xunchen.exceptions import (
    InvalidMobileError,
    MalformedResponseError,
    NotSentError,
    OutcomeUnknownError,
    ResponseCutOffError,
)

from .conftest import PASSWORD, URL, VERY_CODE, fixture


def _form(call, encoding="utf-8"):
    return dict(parse_qsl(call.request.body.decode("ascii"), encoding=encoding))


@responses.activate
def test_balance_posts_credentials_in_the_body_not_the_url(client):
    responses.post(URL, body=fixture("balance_ok.xml"))
    client.get_balance()
    (call,) = responses.calls
    assert call.request.method == "POST"
    assert call.request.url == URL
    assert PASSWORD not in call.request.url and VERY_CODE not in call.request.url
    assert _form(call) == {
        "method": "getAmount",
        "username": "JSM40001",
        "password": PASSWORD,
        "veryCode": VERY_CODE,
    }
    assert call.request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert call.request.headers["User-Agent"].startswith(f"django-xunchen/{__version__}")


@responses.activate
def test_send_utf8_fields(client):
    responses.post(URL, body=fixture("send_ok.xml"))
    at = dt.datetime(2099, 5, 4, 3, 10, 10, tzinfo=dt.timezone.utc)
    result = client.send(
        ["13800138000", "+86 139 0000 0000"], "您好 & 100%+", extcode="88", send_at=at, sign_index=1
    )
    assert result.msgid == "816f333305664fb9bdd8c1bc96ae12b8"
    assert result.mobiles == ("13800138000", "13900000000")
    form = _form(responses.calls[0])
    assert form["method"] == "sendUtf8Msg"
    assert form["mobile"] == "13800138000,13900000000"
    assert form["content"] == "您好 & 100%+"
    assert form["msgtype"] == "1"
    assert form["extcode"] == "88"
    assert form["sendtime"] == "20990504111010"
    assert form["signtag"] == "1"
    assert "tempid" not in form and "code" not in form


@responses.activate
def test_send_gbk_encodes_the_body_in_gbk(gbk_client):
    responses.post(URL, body=fixture("send_ok.xml"))
    gbk_client.send("13800138000", "退订回T")
    call = responses.calls[0]
    assert "%CD%CB%B6%A9" in call.request.body.decode("ascii")  # 退订 in GBK
    assert _form(call, "gbk")["method"] == "sendGbkMsg"
    assert _form(call, "gbk")["content"] == "退订回T"
    assert "charset=GBK" in call.request.headers["Content-Type"]


@responses.activate
def test_template_send(client):
    responses.post(URL, body=fixture("send_ok.xml"))
    client.send("13800138000", template_id="JSM40001-0001", params=["李先生", "您好", "928371"])
    form = _form(responses.calls[0])
    assert form["msgtype"] == "2"
    assert form["tempid"] == "JSM40001-0001"
    assert form["content"] == "@1@=李先生,@2@=您好,@3@=928371"


@responses.activate
def test_validation_happens_before_any_request(client):
    with pytest.raises(InvalidMobileError):
        client.send(["13800138000", "bad"], "hi")
    assert len(responses.calls) == 0


@responses.activate
def test_connection_refused_is_not_sent(client):
    refused = requests.exceptions.ConnectionError(
        NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    )
    responses.post(URL, body=refused)
    with pytest.raises(NotSentError):
        client.send("13800138000", "hi")


@responses.activate
def test_connect_timeout_is_not_sent(client):
    responses.post(URL, body=requests.exceptions.ConnectTimeout())
    with pytest.raises(NotSentError, match="timed out"):
        client.send("13800138000", "hi")


@responses.activate
def test_read_timeout_is_outcome_unknown(client):
    responses.post(URL, body=requests.exceptions.ReadTimeout())
    with pytest.raises(OutcomeUnknownError) as info:
        client.send("13800138000", "hi")
    assert not isinstance(info.value, NotSentError)


@responses.activate
def test_dropped_connection_is_outcome_unknown(client):
    dropped = requests.exceptions.ConnectionError(
        ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    )
    responses.post(URL, body=dropped)
    with pytest.raises(OutcomeUnknownError, match="broke"):
        client.send("13800138000", "hi")


@responses.activate
def test_chunked_encoding_error_is_outcome_unknown(client):
    responses.post(URL, body=requests.exceptions.ChunkedEncodingError())
    with pytest.raises(OutcomeUnknownError):
        client.send("13800138000", "hi")


@pytest.mark.parametrize("status", [500, 502, 404])
@responses.activate
def test_http_error_is_malformed_and_outcome_unknown(client, status):
    responses.post(URL, status=status, body=b"<html>oops</html>")
    with pytest.raises(MalformedResponseError, match=f"HTTP {status}") as info:
        client.send("13800138000", "hi")
    assert isinstance(info.value, OutcomeUnknownError)
    assert info.value.body == b"<html>oops</html>"


@responses.activate
def test_redirects_are_not_followed(client):
    responses.post(URL, status=302, headers={"Location": "http://elsewhere.test/"})
    with pytest.raises(MalformedResponseError, match="HTTP 302"):
        client.get_balance()
    assert len(responses.calls) == 1


@responses.activate
def test_credentials_never_in_errors_or_repr(client):
    responses.post(URL, body=requests.exceptions.ReadTimeout(f"{URL}?password={PASSWORD}"))
    with pytest.raises(OutcomeUnknownError) as info:
        client.get_balance()
    text = str(info.value) + repr(info.value) + repr(client)
    assert PASSWORD not in text and VERY_CODE not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("http://gw.test:8030", "http://gw.test:8030/service/httpService/httpInterface.do"),
        ("http://gw.test:8030/", "http://gw.test:8030/service/httpService/httpInterface.do"),
        ("https://gw.test/custom/path.do", "https://gw.test/custom/path.do"),
    ],
)
def test_base_url(base, url):
    assert XunchenClient(base, "u", "p", "k").url == url


@pytest.mark.parametrize(
    "base", ["gw.test:8030", "ftp://gw.test", "http://user:pw@gw.test", "http://gw.test/?a=1"]
)
def test_bad_base_url(base):
    with pytest.raises(ValueError, match="base URL") as info:
        XunchenClient(base, "u", "p", "k")
    assert "pw" not in str(info.value)


def test_timeouts():
    assert XunchenClient("http://gw.test", "u", "p", "k", timeout=7).timeout == (7.0, 7.0)
    assert XunchenClient("http://gw.test", "u", "p", "k", timeout=(2, 9)).timeout == (2.0, 9.0)


def test_a_given_session_is_used_and_not_closed():
    session = requests.Session()
    with XunchenClient("http://gw.test", "u", "p", "k", session=session) as c:
        assert c.session is session
    assert session.adapters  # still usable


@responses.activate
def test_body_limits_bound_memory_without_reaching_real_query_sizes(client, monkeypatch):
    from django_xunchen.client import parsing

    monkeypatch.setattr(parsing, "MAX_ANSWER_BODY_BYTES", 1000)
    responses.post(URL, body=b"<sms>" + b" " * 2000 + b"</sms>")
    with pytest.raises(ResponseCutOffError, match="over 1000 bytes") as cut:
        client.get_balance()
    assert cut.value.received.startswith(b"<sms>  "), "every byte read is kept"
    many = b"".join(
        b"<rpt><mobile>13800138000</mobile><msgid>%d</msgid><status>DELIVRD</status>"
        b"<time>2026-01-01 00:00:00</time></rpt>" % i
        for i in range(50)
    )
    responses.post(URL, body=b"<sms>" + many + b"</sms>")
    assert len(client.query_reports()) == 50, "a report response may be far larger"
    assert parsing.MAX_QUERY_BODY_BYTES >= 256 * 1024 * 1024


@responses.activate
def test_query_answers_may_be_far_larger_than_other_answers(client):
    from django_xunchen.client import parsing

    big = b"<sms>" + b" " * (parsing.MAX_ANSWER_BODY_BYTES + 10) + b"</sms>"
    responses.post(URL, body=big)
    raw = client.fetch_inbound()
    assert (raw.operation, len(raw.body)) == ("queryMo", len(big))
    responses.post(URL, body=big)
    raw = client.fetch_reports()
    assert (raw.operation, len(raw.body)) == ("queryReport", len(big))
