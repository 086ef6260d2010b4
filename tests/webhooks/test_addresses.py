"""Where webhooks may go (no private addresses, in any spelling), and the POST itself,
against real servers on the loopback interface: pinned to the vetted address, bounded
in time and size, never redirected."""

import contextlib
import http.server
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time

import certifi
import pytest
from django.core.exceptions import ValidationError

from django_xunchen.version import __version__
from django_xunchen.webhooks.addresses import (
    DeliveryError,
    UnsafeURLError,
    check_url,
    is_public,
    post,
    validate_url,
)

from ..conftest import skip_unless_required

BODY = b'{"id":"7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13","type":"message.delivered","data":{}}'
SIGNED = {"X-Xunchen-Signature": "t=1796551200,v1=00", "X-Xunchen-Event": "message.delivered"}


# --------------------------------------------------------------------------- fixtures


class FakeDNS:
    """Answers for made-up names (a list of addresses, or a list per call, the last one
    repeated); every other name goes to the real resolver."""

    def __init__(self, real):
        self.real = real
        self.names: dict[str, list] = {}
        self.asked: list[str] = []

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in self.names:
            return self.real(host, port, family, type, proto, flags)
        self.asked.append(host)
        answers = self.names[host]
        if isinstance(answers, Exception):
            raise answers
        if answers and isinstance(answers[0], list):
            answers = answers[min(self.asked.count(host), len(answers)) - 1]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in answers
        ]


@pytest.fixture
def dns(monkeypatch):
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.server.received.append(
            {"path": self.path, "headers": self.headers, "body": self.rfile.read(length)}
        )
        if self.path == "/redirect":
            self.answer(302, b"", Location=f"http://127.0.0.1:{self.server.server_port}/next")
        elif self.path == "/big":
            self.answer(200, b"x" * 10_000)
        elif self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100_000):
                    self.wfile.write(b"y" * 65536)
        else:
            self.answer(202, b"accepted")

    def answer(self, status, body, **headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    def __init__(self, address, family=socket.AF_INET, tls=None):
        self.address_family = family
        super().__init__(address, Handler)
        self.received = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request, client_address):
        pass


@contextlib.contextmanager
def serving(host="127.0.0.1", family=socket.AF_INET, tls=None):
    server = Server((host, 0), family, tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def server():
    with serving() as running:
        yield running


@pytest.fixture
def base(server):
    return f"http://127.0.0.1:{server.server_port}"


def send(url, *, timeout=5.0, max_bytes=65536, allow_private=True, headers=SIGNED):
    return post(
        url, BODY, headers, timeout=timeout, max_bytes=max_bytes, allow_private=allow_private
    )


def refused(url, **kwargs) -> UnsafeURLError:
    with pytest.raises(UnsafeURLError) as caught:
        check_url(url, allow_private=False, **kwargs)
    return caught.value


# --------------------------------------------------------------------------- check_url

PRIVATE = [
    "http://127.0.0.1/",
    "http://127.8.9.10:8000/",
    "http://localhost/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://[::1]/",
    "http://[::]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
    "http://[ff0e::1]/",
    "http://[2001:db8::1]/",
    # IPv4 inside IPv6: mapped, compatible, NAT64, 6to4; Teredo
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a00:1::1]/",
    "http://[2002:7f00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    # IPv4 in the other spellings the resolver takes
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "HTTP://LOCALHOST:8000/",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_addresses_are_refused(url):
    error = refused(url)
    assert error.code == "private_address"
    assert "ALLOW_PRIVATE_ADDRESSES" in str(error)


@pytest.mark.parametrize("url", PRIVATE)
def test_private_addresses_are_allowed_when_allowed(url):
    destination = check_url(url, allow_private=True)
    assert destination.addresses


@pytest.mark.parametrize(
    "url, address",
    [
        ("http://8.8.8.8/", "8.8.8.8"),
        ("https://1.1.1.1:8443/hook", "1.1.1.1"),
        ("http://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
        ("http://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8"),
        ("http://[2002:808:808::1]/", "2002:808:808::1"),
    ],
)
def test_public_addresses_pass(url, address):
    assert check_url(url, allow_private=False).addresses == (address,)


def test_the_refusal_names_the_host_and_the_address():
    error = refused("http://0x7f.1/")
    assert error.params == {"host": "0x7f.1", "address": "127.0.0.1"}
    assert "0x7f.1 resolves to 127.0.0.1" in str(error)


def test_a_public_name_that_resolves_to_a_private_address_is_refused(dns):
    dns.names["hooks.example.com"] = ["10.0.0.1"]
    error = refused("https://hooks.example.com/in")
    assert error.params == {"host": "hooks.example.com", "address": "10.0.0.1"}


@pytest.mark.parametrize("private", ["10.0.0.1", "fd00::1", "::ffff:192.168.0.1"])
def test_one_private_address_among_public_ones_is_enough_to_refuse(dns, private):
    dns.names["mixed.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    dns.names["mixed.example.com"].insert(1, private)
    assert refused("https://mixed.example.com/").params["address"] == private


def test_every_address_is_returned_once_in_the_resolvers_order(dns):
    dns.names["hooks.example.com"] = ["93.184.215.14", "2606:4700::1", "93.184.215.14"]
    destination = check_url("https://hooks.example.com/in?a=1#top", allow_private=False)
    assert destination.addresses == ("93.184.215.14", "2606:4700::1")
    assert (destination.scheme, destination.host, destination.port) == (
        "https",
        "hooks.example.com",
        443,
    )
    assert destination.target == "/in?a=1"
    assert destination.host_header == "hooks.example.com"


def test_a_name_that_does_not_resolve(dns):
    dns.names["nowhere.example.com"] = socket.gaierror(socket.EAI_NONAME, "Name not known")
    error = refused("https://nowhere.example.com/")
    assert error.code == "unresolvable"
    assert str(error) == "nowhere.example.com could not be resolved."


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_", "example.com"]
)
def test_only_http_and_https(url):
    error = refused(url)
    assert (error.code, str(error)) == ("scheme", "Only http and https URLs can receive webhooks.")


@pytest.mark.parametrize(
    "url",
    [
        "https://user:password@example.com/",
        "https://token@example.com/",
        "https://@example.com/",
        "https://example.com@127.0.0.1/",
    ],
)
def test_user_information_is_refused(url):
    assert refused(url).code == "userinfo"


@pytest.mark.parametrize(
    "url",
    [
        "https:///path",
        "https://",
        "http://example.com:0/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://exa mple.com/",
        "http://example.com/a b",
        "http://example.com/\r\nX-Injected: 1",
        "http://a..b/",
    ],
)
def test_malformed_urls_are_invalid(url):
    assert refused(url).code == "invalid"


def test_the_message_never_shows_the_path_or_query():
    error = refused("https://10.0.0.1/hooks/s3cr3t-path?token=s3cr3t-query")
    assert "s3cr3t" not in str(error) and "s3cr3t" not in repr(error)
    destination = check_url("https://10.0.0.1/hooks/s3cr3t-path", allow_private=True)
    assert "s3cr3t" not in repr(destination)


def test_host_header_carries_a_port_that_is_not_the_default():
    assert check_url("http://127.0.0.1/", allow_private=True).host_header == "127.0.0.1"
    assert check_url("https://127.0.0.1:443/", allow_private=True).host_header == "127.0.0.1"
    assert check_url("https://127.0.0.1:80/", allow_private=True).host_header == "127.0.0.1:80"
    assert check_url("http://[::1]:8000/", allow_private=True).host_header == "[::1]:8000"


def test_an_international_name_goes_out_as_ascii(dns):
    dns.names["xn--fsqu00a.xn--fiqs8s"] = ["93.184.215.14"]
    destination = check_url("https://例子.中国/路径?q=值", allow_private=False)
    assert destination.host == "xn--fsqu00a.xn--fiqs8s"
    assert destination.target == "/%E8%B7%AF%E5%BE%84?q=%E5%80%BC"
    assert check_url("https://127.0.0.1/a%20b?c=%2F", allow_private=True).target == "/a%20b?c=%2F"


@pytest.mark.parametrize(
    "address, public",
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("::808:808", False),
        ("::ffff:0:808:808", False),
        ("100.64.0.1", False),
        ("100.127.255.255", False),
        ("224.0.0.251", False),
        ("ff0e::1", False),
        ("::ffff:100.64.0.1", False),
        ("64:ff9b::7f00:1", False),
        ("::a00:1", False),
        ("2001::1", False),
    ],
)
def test_is_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_validate_url_raises_a_validation_error_for_the_form():
    with pytest.raises(ValidationError) as caught:
        validate_url("http://169.254.169.254/latest/meta-data/", allow_private=False)
    assert caught.value.code == "private_address"
    assert caught.value.messages == [
        "169.254.169.254 resolves to 169.254.169.254, which is not a public internet address "
        "(private, loopback, link-local or reserved); set "
        "XUNCHEN['WEBHOOKS']['ALLOW_PRIVATE_ADDRESSES'] to allow it (development and tests "
        "only)."
    ]
    with pytest.raises(ValidationError) as caught:
        validate_url("ftp://example.com/", allow_private=True)
    assert caught.value.code == "scheme"
    assert validate_url("http://127.0.0.1/", allow_private=True) is None
    assert validate_url("https://8.8.8.8/", allow_private=False) is None


# --------------------------------------------------------------------------- post


def test_post_delivers_the_body_and_headers(server, base):
    response = send(f"{base}/hooks/in?source=tests")
    assert (response.status, response.body, response.truncated) == (202, b"accepted", False)
    assert 0 < response.duration < 5
    [request] = server.received
    assert request["path"] == "/hooks/in?source=tests"
    assert request["body"] == BODY
    headers = request["headers"]
    assert headers["Host"] == f"127.0.0.1:{server.server_port}"
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(BODY))
    assert headers["User-Agent"] == f"django-xunchen-webhooks/{__version__}"
    assert headers["X-Xunchen-Signature"] == SIGNED["X-Xunchen-Signature"]
    assert headers["X-Xunchen-Event"] == "message.delivered"


def test_the_host_header_is_the_urls_host_and_cannot_be_overridden(dns, server):
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    url = f"http://hooks.example.com:{server.server_port}/in"
    send(url, headers={**SIGNED, "host": "internal.example.com"})
    [request] = server.received
    assert request["headers"].get_all("Host") == [f"hooks.example.com:{server.server_port}"]


def test_post_checks_the_address_at_delivery_time(dns, server):
    """The endpoint was saved while its name was public; now it points inside."""
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    with pytest.raises(UnsafeURLError) as caught:
        send(f"http://hooks.example.com:{server.server_port}/in", allow_private=False)
    assert caught.value.code == "private_address"
    assert server.received == []


def test_post_connects_to_the_address_it_vetted(dns, server):
    """DNS rebinding: a second lookup would answer another address; there is none."""
    dns.names["rebind.example.com"] = [["127.0.0.1"], ["10.0.0.1"]]
    response = send(f"http://rebind.example.com:{server.server_port}/in", timeout=3)
    assert response.status == 202
    assert len(server.received) == 1
    assert dns.asked == ["rebind.example.com"]


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_post_over_ipv6():
    if not has_ipv6_loopback():
        skip_unless_required("needs IPv6 on the loopback interface", "XUNCHEN_REQUIRE_IPV6")
    with serving("::1", socket.AF_INET6) as six:
        response = send(f"http://[::1]:{six.server_port}/in")
    assert response.status == 202
    assert six.received[0]["headers"]["Host"] == f"[::1]:{six.server_port}"


def test_the_next_address_is_tried_only_when_connecting_failed(dns, refusing_url):
    closed = refusing_url.rsplit(":", 1)[1]
    with serving() as other:
        dns.names["two.example.com"] = ["127.0.0.2", "127.0.0.1"]
        response = send(f"http://two.example.com:{other.server_port}/in")
    assert response.status == 202
    assert len(other.received) == 1
    dns.names["none.example.com"] = ["127.0.0.2", "127.0.0.1"]
    with pytest.raises(DeliveryError, match=r"^Could not connect to none\.example\.com\.$"):
        send(f"http://none.example.com:{closed}/in")


def test_a_redirect_is_not_followed(server, base):
    response = send(f"{base}/redirect")
    assert response.status == 302
    assert [r["path"] for r in server.received] == ["/redirect"]


def test_an_answer_over_max_bytes_is_cut_and_marked(server, base):
    response = send(f"{base}/big", max_bytes=1000)
    assert (response.status, response.body, response.truncated) == (200, b"x" * 1000, True)
    response = send(f"{base}/big", max_bytes=10_000)
    assert (response.body, response.truncated) == (b"x" * 10_000, False)
    response = send(f"{base}/big", max_bytes=0)
    assert (response.status, response.body, response.truncated) == (200, b"", True)


def test_reading_stops_at_max_bytes(server, base):
    """An endless answer: the POST returns at once with the start of it."""
    started = time.monotonic()
    response = send(f"{base}/endless", max_bytes=100_000, timeout=5)
    assert time.monotonic() - started < 3
    assert (response.status, len(response.body), response.truncated) == (200, 100_000, True)


@contextlib.contextmanager
def raw_server(behaviour):
    """A listening socket whose connections ``behaviour(conn)`` handles, one thread each."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    threads = []

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=behaviour, args=(conn, stop), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(5)
        for thread in threads:
            thread.join(5)


def silent(conn, stop):
    with conn:
        stop.wait(10)


def trickling(conn, stop):
    with conn:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            if stop.wait(0.1):
                return
            with contextlib.suppress(OSError):
                conn.sendall(b"z")


def test_a_server_that_never_answers_times_out():
    with raw_server(silent) as url:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            send(f"{url}/in", timeout=0.5)
        took = time.monotonic() - started
    assert str(caught.value) == "127.0.0.1 did not answer within 0.5 s."
    assert 0.4 < took < 3


def test_the_timeout_bounds_the_whole_post_not_each_read():
    """A byte every 0.1 s: no single read waits 0.5 s, the whole would take 10 s."""
    with raw_server(trickling) as url:
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"did not answer within 0\.5 s"):
            send(f"{url}/in", timeout=0.5)
        took = time.monotonic() - started
    assert took < 3


def test_connection_refused(refusing_url):
    with pytest.raises(DeliveryError) as caught:
        send(f"{refusing_url}/hooks/s3cr3t")
    assert str(caught.value) == "Could not connect to 127.0.0.1."


def test_connect_timeout(unreachable_url):
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        send(f"{unreachable_url}/in", timeout=0.5)
    assert str(caught.value) == "Connecting to 127.0.0.1 timed out after 0.5 s."
    assert time.monotonic() - started < 3


def test_a_name_that_does_not_resolve_at_delivery_time_is_a_delivery_error(dns):
    dns.names["gone.example.com"] = socket.gaierror(socket.EAI_AGAIN, "Try again")
    with pytest.raises(DeliveryError, match=r"^gone\.example\.com could not be resolved\.$"):
        send("https://gone.example.com/in")


def test_an_unsafe_url_is_refused_before_any_connection(server, base):
    with pytest.raises(UnsafeURLError):
        send(base.replace("http://", "http://user:pw@") + "/in")
    with pytest.raises(UnsafeURLError):
        send(f"{base}/in", allow_private=False)
    assert server.received == []


def test_arguments_are_checked(base):
    with pytest.raises(ValueError, match="timeout"):
        send(base, timeout=0)
    with pytest.raises(ValueError, match="max_bytes"):
        send(base, max_bytes=-1)


# --------------------------------------------------------------------------- https


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for hooks.example.com: (certificate, key) paths."""
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_unless_required("needs openssl (apt-get install openssl)", "XUNCHEN_REQUIRE_OPENSSL")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=hooks.example.com",
            "-addext",
            "subjectAltName=DNS:hooks.example.com",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with serving(tls=context) as running:
        yield running


def test_https_verifies_the_certificate_for_the_urls_host(
    dns, monkeypatch, certificate, tls_server
):
    monkeypatch.setattr(certifi, "where", lambda: str(certificate[0]))
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    response = send(f"https://hooks.example.com:{tls_server.server_port}/in")
    assert response.status == 202
    [request] = tls_server.received
    assert request["headers"]["Host"] == f"hooks.example.com:{tls_server.server_port}"
    assert request["body"] == BODY


def test_https_refuses_a_certificate_for_another_host(dns, monkeypatch, certificate, tls_server):
    monkeypatch.setattr(certifi, "where", lambda: str(certificate[0]))
    dns.names["other.example.com"] = ["127.0.0.1"]
    with pytest.raises(DeliveryError) as caught:
        send(f"https://other.example.com:{tls_server.server_port}/in")
    assert str(caught.value).startswith("The TLS connection to other.example.com failed")
    assert "other.example.com" in str(caught.value).split("failed", 1)[1]
    assert tls_server.received == []


def test_https_refuses_an_untrusted_certificate(dns, tls_server):
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    with pytest.raises(
        DeliveryError,
        match=r"^The TLS connection to hooks\.example\.com failed: self.signed certificate\.$",
    ):
        send(f"https://hooks.example.com:{tls_server.server_port}/s3cr3t")
    assert tls_server.received == []


def test_https_to_a_server_that_speaks_plain_http(dns, server):
    dns.names["hooks.example.com"] = ["127.0.0.1"]
    with pytest.raises(DeliveryError, match=r"^The TLS connection to hooks\.example\.com failed"):
        send(f"https://hooks.example.com:{server.server_port}/in")
