"""The transport at its edges: how a failed connection is told apart from a broken
answer, what a cut-off error keeps and says, and the deadline's watchdog."""

import re
import socket
import threading

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from django_xunchen.client import XunchenClient
from django_xunchen.client.http import _never_connected
from django_xunchen.exceptions import ResponseCutOffError
from django_xunchen.fake_gateway import FakeGateway

from .conftest import URL, fixture


def refused():
    return NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")


def test_a_refusal_is_found_however_requests_wraps_it():
    """requests wraps urllib3's MaxRetryError, whose ``reason`` is the refusal."""
    assert _never_connected(
        requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason=refused()))
    )
    outer = requests.exceptions.ConnectionError("x")
    outer.__cause__ = refused()
    assert _never_connected(outer)


def test_a_broken_answer_is_not_a_refusal_even_in_a_cyclic_chain():
    first = requests.exceptions.ConnectionError(ProtocolError("Connection aborted."))
    second = ConnectionResetError(104, "reset")
    first.__context__, second.__context__ = second, first
    assert not _never_connected(first)


@pytest.fixture
def gateway():
    with FakeGateway(seed=5, report_delay=0) as gw:
        yield gw


def test_a_cut_off_answer_says_how_much_came_and_keeps_it_all(gateway):
    gateway.inject_fault("cutoff", method="getAmount")
    with XunchenClient(gateway.base_url, *gateway.credentials, timeout=(2, 2)) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.get_balance()
    received = info.value.received
    assert received.startswith(b"<?xml") and len(received) > 20
    assert re.fullmatch(
        rf"getAmount: the answer broke off after {len(received)} of \d+ bytes", str(info.value)
    )


@pytest.fixture
def chunked_then_dropped():
    """A server that answers with one chunk of a chunked body, then closes: urllib3 says
    the response ended prematurely (requests: ChunkedEncodingError)."""
    listener = socket.create_server(("127.0.0.1", 0))
    first = b"<?xml version='1.0'?><sms><rpt><mobile>138"

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(first)
                + first
                + b"\r\n"
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", first
    thread.join(5)
    assert not thread.is_alive()
    listener.close()


def test_an_answer_whose_connection_breaks_keeps_every_byte_and_says_why(chunked_then_dropped):
    url, first = chunked_then_dropped
    with XunchenClient(url, "u", "p", "k", timeout=(2, 2)) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.fetch_reports()
    assert info.value.received == first
    assert str(info.value) == (
        f"queryReport: the answer broke off after {len(first)} bytes: "
        "the connection broke (ChunkedEncodingError)"
    )


def test_without_a_deadline_no_watchdog_runs_and_a_slow_answer_is_read(gateway):
    gateway.inject_fault("latency", seconds=1.5, method="getAmount")
    before = {t for t in threading.enumerate() if isinstance(t, threading.Timer)}
    with XunchenClient(
        gateway.base_url, *gateway.credentials, timeout=(2, 5), deadline=None
    ) as client:
        assert client.get_balance().messages > 0
        during = {t for t in threading.enumerate() if isinstance(t, threading.Timer)}
    assert during == before


def test_a_finished_request_leaves_no_watchdog_running(gateway):
    with XunchenClient(
        gateway.base_url, *gateway.credentials, timeout=(2, 5), deadline=30
    ) as client:
        client.get_balance()
        timers = [
            t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()
        ]
        for timer in timers:
            timer.join(1)
        assert not [t for t in timers if t.is_alive()], "the watchdog was cancelled"


@responses.activate
def test_the_body_s_charset_is_declared(client, gbk_client):
    responses.post(URL, body=fixture("balance_ok.xml"))
    client.get_balance()
    gbk_client.get_balance()
    declared = [call.request.headers["Content-Type"] for call in responses.calls]
    assert declared == [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded; charset=GBK",
    ]
