"""Where a webhook may go, and the POST that takes it there.

Endpoint URLs are typed in by staff, so the app's own network is what an attacker would
aim them at (SSRF): the database, the cache, a cloud metadata service. :func:`check_url`
resolves the host and refuses the URL unless every address it resolves to is public;
:func:`post` checks again at delivery time and then connects to one of the addresses it
vetted, never resolving the name a second time, so a DNS answer that changes in between
(DNS rebinding) cannot steer the request inside. The name still goes out as the
``Host`` header and, over https, as the TLS server name the certificate is verified
against.

``XUNCHEN["WEBHOOKS"]["ALLOW_PRIVATE_ADDRESSES"]`` lifts the address check (the scheme
and user information rules stay), for development and tests.

Messages name the host, never the whole URL: a receiver's path or query often is its
own secret token.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import urllib3
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, SSLError
from urllib3.util.ssl_match_hostname import CertificateError

from ..version import __version__

USER_AGENT = f"django-xunchen-webhooks/{__version__}"
_CHUNK = 65536
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    """A URL that may not receive webhooks. ``code`` is stable; the message is
    translated when shown, in the language active then."""

    def __init__(self, message: Any, code: str, params: dict[str, str] | None = None) -> None:
        super().__init__(message, code, params)
        self.message = message
        self.code = code
        self.params = params or {}

    def __str__(self) -> str:
        return str(self.message) % self.params if self.params else str(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class DeliveryError(Exception):
    """No usable answer: the name did not resolve, the connection failed or broke, TLS
    failed, or no complete answer came within the timeout."""


@dataclass(frozen=True)
class Destination:
    """A vetted URL: where to connect and what to ask for. ``target`` (the path and
    query) stays out of the repr, as it may be the receiver's secret."""

    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    target: str = field(repr=False)

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


@dataclass
class Response:
    """The receiver's answer. ``truncated``: it sent more than ``max_bytes``, and
    ``body`` holds the first ``max_bytes`` of it; the status stands all the same."""

    status: int
    body: bytes
    duration: float
    truncated: bool = False


def check_url(url: str, *, allow_private: bool) -> Destination:
    """``url`` vetted: http or https, a host, no user information, and (unless
    ``allow_private``) every address the host resolves to public. Otherwise
    :class:`UnsafeURLError`."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise _invalid()
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket
        raise _invalid() from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURLError(
            gettext_lazy("Only http and https URLs can receive webhooks."), "scheme"
        )
    if "@" in parts.netloc:
        raise UnsafeURLError(
            gettext_lazy("A webhook URL must not carry a user name or password."), "userinfo"
        )
    try:
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        if host and ":" not in host:
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise _invalid() from None
    if not host or port == 0:
        raise _invalid()
    if port is None:
        port = 443 if scheme == "https" else 80
    addresses = _resolve(host, port)
    if not allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address)):
                raise UnsafeURLError(
                    gettext_lazy(
                        "%(host)s resolves to %(address)s, which is not a public internet "
                        "address (private, loopback, link-local or reserved); set "
                        "XUNCHEN['WEBHOOKS']['ALLOW_PRIVATE_ADDRESSES'] to allow it "
                        "(development and tests only)."
                    ),
                    "private_address",
                    {"host": host, "address": address},
                )
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Destination(scheme, host, port, addresses, quote(target, safe=string.punctuation))


def _invalid() -> UnsafeURLError:
    return UnsafeURLError(
        gettext_lazy("Enter a complete URL, such as https://example.com/webhooks."), "invalid"
    )


def validate_url(url: str, *, allow_private: bool) -> None:
    """:func:`check_url` for a form: :class:`~django.core.exceptions.ValidationError`."""
    try:
        check_url(url, allow_private=allow_private)
    except UnsafeURLError as exc:
        raise ValidationError(exc.message, code=exc.code, params=exc.params or None) from None


def is_public(address: Address) -> bool:
    """Whether ``address`` is on the public internet. An IPv6 address that carries an
    IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address, so that behind DNS64
    an IPv4-only receiver stays reachable and a private one stays refused; Teredo and
    the deprecated IPv4-compatible form are refused outright."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in _SHARED
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to, IPv4 and IPv6, in the resolver's order."""
    unresolvable = UnsafeURLError(
        gettext_lazy("%(host)s could not be resolved."), "unresolvable", {"host": host}
    )
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise unresolvable from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0])
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise unresolvable from None
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise unresolvable
    return tuple(addresses)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
) -> Response:
    """POST ``body`` to ``url`` once and return the answer, whatever its status.

    The URL is checked now (:class:`UnsafeURLError`; a name that does not resolve is a
    :class:`DeliveryError`, as it may resolve later). The request goes to the vetted
    addresses in turn, the next one only when connecting failed, so the body is sent
    to one at most. Redirects are not followed: a 3xx is returned like any other status.
    ``timeout`` bounds the whole POST, connecting and reading included, however slowly
    the answer trickles in (name resolution excepted: the resolver has its own).
    An answer over ``max_bytes`` is cut there and marked ``truncated``. The answer is
    read as it came: no decompression. Proxies in the environment are not used.
    """
    if timeout <= 0 or max_bytes < 0:
        raise ValueError("timeout must be positive and max_bytes not negative")
    started = time.monotonic()
    try:
        destination = check_url(url, allow_private=allow_private)
    except UnsafeURLError as exc:
        if exc.code == "unresolvable":
            raise DeliveryError(str(exc)) from None
        raise
    sent = urllib3.HTTPHeaderDict(
        {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    )
    sent["Host"] = destination.host_header
    with _Deadline(timeout) as deadline:
        for index, address in enumerate(destination.addresses, start=1):
            try:
                status, answer, truncated = _exchange(
                    destination, address, body, sent, deadline, max_bytes
                )
            except ConnectTimeoutError as exc:
                if index == len(destination.addresses) or deadline.remaining() <= 0:
                    raise _failure(exc, destination, timeout, deadline, connected=False) from None
            except (HTTPError, OSError) as exc:
                raise _failure(exc, destination, timeout, deadline, connected=True) from None
            else:
                return Response(status, answer, time.monotonic() - started, truncated)
    raise AssertionError("unreachable: a vetted destination has an address")


def _exchange(
    destination: Destination,
    address: str,
    body: bytes,
    headers: urllib3.HTTPHeaderDict,
    deadline: _Deadline,
    max_bytes: int,
) -> tuple[int, bytes, bool]:
    seconds = max(deadline.remaining(), 0.001)
    options: dict[str, Any] = {
        "host": address,
        "port": destination.port,
        "timeout": urllib3.Timeout(connect=seconds, read=seconds),
        "maxsize": 1,
        "retries": False,
        "deadline": deadline,
    }
    pool: urllib3.HTTPConnectionPool
    if destination.scheme == "https":
        pool = _HTTPSPool(
            **options,
            server_hostname=destination.host,
            assert_hostname=destination.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    else:
        pool = _HTTPPool(**options)
    with pool:
        response = pool.urlopen(
            "POST",
            destination.target,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            release_conn=False,
        )
        try:
            chunks: list[bytes] = []
            size = 0
            while size <= max_bytes:
                chunk = response.read(min(_CHUNK, max_bytes + 1 - size), decode_content=False)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if not deadline.finish():
                raise _Expired
            answer = b"".join(chunks)
            return response.status, answer[:max_bytes], size > max_bytes
        finally:
            response.close()


class _Expired(OSError):
    """The deadline passed while the answer was still coming."""


def _failure(
    exc: BaseException,
    destination: Destination,
    timeout: float,
    deadline: _Deadline,
    *,
    connected: bool,
) -> DeliveryError:
    params = {"host": destination.host, "seconds": f"{timeout:g}"}
    if not connected and isinstance(exc, NewConnectionError) and not deadline.expired:
        message = _("Could not connect to %(host)s.")
    elif not connected:
        message = _("Connecting to %(host)s timed out after %(seconds)s s.")
    elif deadline.expired or isinstance(exc, TimeoutError | urllib3.exceptions.TimeoutError):
        message = _("%(host)s did not answer within %(seconds)s s.")
    elif isinstance(exc, SSLError):
        reason = _ssl_reason(exc)
        if reason:
            params["reason"] = reason
            message = _("The TLS connection to %(host)s failed: %(reason)s.")
        else:
            message = _("The TLS connection to %(host)s failed.")
    else:
        message = _("The connection to %(host)s broke before the answer was complete.")
    return DeliveryError(message % params)


def _ssl_reason(exc: BaseException) -> str:
    """The certificate or handshake problem, as OpenSSL or the host name check words
    it: host names, never a URL."""
    seen: BaseException | None = exc
    for _step in range(8):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLCertVerificationError) and seen.verify_message:
            return str(seen.verify_message)
        if isinstance(seen, CertificateError):
            return str(seen)
        if isinstance(seen, ssl.SSLError) and seen.reason:
            return str(seen.reason).replace("_", " ").lower()
        wrapped = [arg for arg in seen.args if isinstance(arg, BaseException)]
        seen = wrapped[0] if wrapped else seen.__cause__ or seen.__context__
    return ""


class _Deadline:
    """A watchdog for one POST: when ``seconds`` pass, it shuts down the socket in use,
    so a read that is blocked, or an answer trickling in a byte at a time, ends there.
    Socket timeouts alone bound each read, not the whole."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._done = False
        self._ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self._ends - time.monotonic()

    def finish(self) -> bool:
        """Stop the watchdog; whether it had not fired yet."""
        with self._lock:
            self._timer.cancel()
            self._done = True
            return not self.expired

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A connection that hands its socket to the POST's :class:`_Deadline` as soon as
    it is made, before any TLS handshake."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        self._deadline.attach(sock)
        return sock


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


__all__ = [
    "USER_AGENT",
    "DeliveryError",
    "Destination",
    "Response",
    "UnsafeURLError",
    "check_url",
    "is_public",
    "post",
    "validate_url",
]
