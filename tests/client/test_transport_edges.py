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
    # An earlier test's cancelled watchdog may end meanwhile: only a new one counts.
    assert during - before == set(), "no watchdog started"


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


# ------------------------------------------------------------------ answers of many reads


def _read_request(conn):
    """Read one whole request (headers and form body), so that closing the socket sends
    a clean FIN rather than a reset."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
    while len(body) < length:
        body += conn.recv(65536)


@pytest.fixture
def raw_server():
    """``start(write)``: a server that reads one request, then lets ``write(conn)``
    answer it on the raw socket; returns the URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    threads = []

    def start(write):
        def serve():
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                _read_request(conn)
                write(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    listener.close()


def _wait_for_close(conn):
    """Hold the answer open until the client shuts the connection down."""
    while conn.recv(65536):
        pass


BALANCE_BODY = fixture("balance_ok.xml")
#: Three reads' worth of bytes: more than one read of the loop, fewer than announced.
PART = 3 * 65536 + 123


def _padded_balance(size):
    """The sample balance answer, padded with spaces after its root to ``size`` bytes."""
    return BALANCE_BODY + b" " * (size - len(BALANCE_BODY))


def test_an_answer_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(raw_server):
    from django_xunchen.client.parsing import MAX_ANSWER_BODY_BYTES as LIMIT

    def answer(size):
        def write(conn):
            body = _padded_balance(size)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

        return write

    with XunchenClient(raw_server(answer(LIMIT)), "u", "p", "k", timeout=(2, 5)) as client:
        assert client.get_balance().messages > 0
    with XunchenClient(raw_server(answer(LIMIT + 1)), "u", "p", "k", timeout=(2, 5)) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.get_balance()
    received = info.value.received
    assert str(info.value) == f"getAmount: the answer is over {LIMIT} bytes; reading stopped there"
    assert len(received) > LIMIT and received == _padded_balance(LIMIT + 1)[: len(received)]


def test_a_short_answer_of_many_reads_keeps_every_byte(raw_server):
    body = _padded_balance(PART + 1000)

    def write(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:PART])

    with XunchenClient(raw_server(write), "u", "p", "k", timeout=(2, 5)) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.get_balance()
    assert info.value.received == body[:PART]
    assert str(info.value) == f"getAmount: the answer broke off after {PART} of {len(body)} bytes"


def test_an_answer_of_many_reads_stopped_by_the_deadline_keeps_every_byte(raw_server):
    body = _padded_balance(PART + 1000)

    def write(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:PART])
        _wait_for_close(conn)

    url = raw_server(write)
    with XunchenClient(url, "u", "p", "k", timeout=(2, 10), deadline=1) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.get_balance()
    assert info.value.received == body[:PART]
    assert str(info.value) == "getAmount: the answer did not finish within the 1 s deadline"


def test_a_chunked_answer_stopped_by_the_deadline_keeps_every_chunk_and_says_why(raw_server):
    chunks = [b"<?xml version='1.0'?><sms>", b"<rpt><mobile>138"]

    def write(conn):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
        )
        _wait_for_close(conn)

    url = raw_server(write)
    with XunchenClient(url, "u", "p", "k", timeout=(2, 10), deadline=1) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.fetch_reports()
    received = b"".join(chunks)
    assert info.value.received == received
    assert str(info.value) == (
        f"queryReport: the answer broke off after {len(received)} bytes: "
        "it did not finish within the 1 s deadline"
    )


def test_a_deadline_that_expired_before_its_socket_came_shuts_it_down_on_arrival():
    from django_xunchen.client.http import _Deadline

    watch = _Deadline(30)
    watch._expire()
    mine, theirs = socket.socketpair()
    with mine, theirs:
        mine.settimeout(5)
        watch.attach(mine)
        assert mine.recv(1) == b"", "shut down: the read returns at once"


def test_a_deadline_expiring_on_a_socket_already_closed_does_nothing():
    from django_xunchen.client.http import _Deadline

    watch = _Deadline(30)
    unconnected = socket.socket()
    with unconnected:
        watch.attach(unconnected)
        watch._expire()
    assert watch.expired


# ------------------------------------------------------------------ the session


def test_the_transport_never_retries_and_watches_both_schemes():
    """A retry below the client could send an SMS twice: the client alone decides what a
    failure means. Both schemes go through the adapter the deadline can find."""
    from django_xunchen.client.http import _WatchedAdapter

    with XunchenClient("https://gateway.test:8030", "u", "p", "k") as client:
        for url in ("http://gateway.test/x", "https://gateway.test/x"):
            adapter = client.session.get_adapter(url)
            assert isinstance(adapter, _WatchedAdapter)
            assert adapter.max_retries.total == 0


def test_an_answer_that_does_not_come_in_time_says_how_long_was_waited(gateway):
    from django_xunchen.exceptions import OutcomeUnknownError

    gateway.inject_fault("latency", seconds=3, method="getAmount")
    with XunchenClient(
        gateway.base_url, *gateway.credentials, timeout=(2, 1), deadline=None
    ) as client:
        with pytest.raises(OutcomeUnknownError) as info:
            client.get_balance()
    assert str(info.value) == "getAmount: the gateway did not answer within 1.0 s"


@responses.activate
def test_any_other_failure_of_the_request_is_told_by_its_type(client):
    from django_xunchen.exceptions import OutcomeUnknownError

    responses.post(URL, body=requests.exceptions.ContentDecodingError("bad gzip"))
    with pytest.raises(OutcomeUnknownError) as info:
        client.get_balance()
    assert str(info.value) == "getAmount: the request failed (ContentDecodingError)"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://user@gateway.test", "base URL must not contain a user name or password"),
        ("http://:secret@gateway.test", "base URL must not contain a user name or password"),
        ("http://gateway.test/?a=1", "base URL must not have a query string or fragment"),
        ("http://gateway.test/#top", "base URL must not have a query string or fragment"),
    ],
)
def test_a_base_url_with_credentials_or_a_query_is_refused(url, message):
    from django_xunchen.client.http import endpoint_url

    with pytest.raises(ValueError) as info:
        endpoint_url(url)
    assert str(info.value) == message


def test_a_base_url_keeps_any_path_of_its_own():
    from django_xunchen.client.http import ENDPOINT_PATH, endpoint_url

    assert endpoint_url("http://gateway.test:8030/X") == "http://gateway.test:8030/X"
    assert endpoint_url("http://gateway.test:8030//") == f"http://gateway.test:8030{ENDPOINT_PATH}"


def test_the_client_closes_its_own_session_and_never_one_it_was_given():
    closed = []
    given = requests.Session()
    given.close = lambda: closed.append("given")
    with XunchenClient("http://gateway.test", "u", "p", "k", session=given):
        pass
    with XunchenClient("http://gateway.test", "u", "p", "k") as client:
        client.session.close = lambda: closed.append("own")
    assert closed == ["own"]


def test_the_client_goes_through_the_proxy_the_environment_names(gateway, monkeypatch):
    """As every requests user expects: HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply."""
    from django_xunchen.exceptions import NotSentError

    with socket.socket() as closed_port:
        closed_port.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{closed_port.getsockname()[1]}"
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    with XunchenClient(gateway.base_url, *gateway.credentials, timeout=(2, 2)) as client:
        with pytest.raises(NotSentError):
            client.get_balance()


def test_https_connections_are_watched_too():
    from django_xunchen.client.http import _WatchedHTTPSPool

    with XunchenClient("https://gateway.test", "u", "p", "k") as client:
        adapter = client.session.get_adapter("https://gateway.test/x")
        adapter.init_poolmanager(1, 4)
        assert adapter.poolmanager.pool_classes_by_scheme["https"] is _WatchedHTTPSPool
