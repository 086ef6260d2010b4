"""The HTTP side of the protocol: one pooled session, form-encoded POSTs, no retries."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ..exceptions import (
    BALANCE,
    INBOUND,
    REPORTS,
    SEND,
    InvalidContentError,
    MalformedResponseError,
    NotSentError,
    OutcomeUnknownError,
    ResponseCutOffError,
)
from ..version import __version__
from . import parsing
from .secret import Secret, SecretBytes
from .types import (
    Balance,
    DeliveryReport,
    InboundSMS,
    Mobiles,
    RawResponse,
    SendRequest,
    SendResult,
)
from .validation import Params, build_send_request, normalize_encoding

logger = logging.getLogger("django_xunchen.client")

#: The path every account's endpoint shares; hosts and ports differ between resellers.
ENDPOINT_PATH = "/service/httpService/httpInterface.do"
DEFAULT_TIMEOUT = (5.0, 30.0)
#: Seconds a whole request may take, connect and every read included. requests' own
#: timeouts bound each socket operation, so a gateway that trickles a byte at a time
#: could otherwise hold a request open for ever.
DEFAULT_DEADLINE = 60.0
USER_AGENT = f"django-xunchen/{__version__} python-requests/{requests.__version__}"


def endpoint_url(base_url: str) -> str:
    """The full endpoint for ``base_url``: ``http://host:port`` gets the standard path;
    a URL that already has a path is used as it is. User information is refused, since
    it would put a credential in every log line that shows the URL."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be an http:// or https:// URL, not {base_url!r}")
    if parts.username or parts.password:
        raise ValueError("base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("base URL must not have a query string or fragment")
    path = parts.path if parts.path.strip("/") else ENDPOINT_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _timeout(value: float | tuple[float, float] | None) -> tuple[float, float]:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    connect, read = value
    return (float(connect), float(read))


class XunchenClient:
    """A client for one Xunchen account.

    ``base_url`` is ``http://HOST:PORT`` (the standard path is added) or the full endpoint
    URL. ``timeout`` is seconds, or a ``(connect, read)`` pair, for each socket operation;
    ``deadline`` bounds a whole request, however slowly the answer trickles in.
    ``before_request`` is called just before each request's bytes leave (a backend uses it
    to know whether a failed send may have reached the gateway). Requests are never retried:
    a failure raises :class:`~django_xunchen.exceptions.NotSentError` when the request
    certainly did not leave, :class:`~django_xunchen.exceptions.OutcomeUnknownError` when it
    may have been acted on.

    Usable as a context manager, which closes the connection pool on exit.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        very_code: str,
        *,
        encoding: str = "utf-8",
        timeout: float | tuple[float, float] | None = DEFAULT_TIMEOUT,
        deadline: float | None = DEFAULT_DEADLINE,
        session: requests.Session | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> None:
        self.url = endpoint_url(base_url)
        self.username = username
        self._password = Secret(password)
        self._very_code = Secret(very_code)
        self.encoding = normalize_encoding(encoding)
        self.timeout = _timeout(timeout)
        self.deadline = float(deadline) if deadline else None
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be a positive number of seconds, not {deadline!r}")
        self.before_request = before_request
        self._owns_session = session is None
        self.session = session or self._new_session()

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        adapter = _WatchedAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = USER_AGENT
        session.trust_env = True
        return session

    def __repr__(self) -> str:
        return f"<XunchenClient url={self.url!r} encoding={self.encoding!r}>"

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> XunchenClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ wire

    def _post(
        self,
        method: str,
        operation: str,
        fields: dict[str, str] | None = None,
        *,
        limit: int | None = None,
    ) -> bytes:
        form = {
            "method": method,
            "username": self.username,
            "password": self._password,
            "veryCode": self._very_code,
            **(fields or {}),
        }
        try:
            body = SecretBytes(urlencode(form, encoding=self.encoding).encode("ascii"))
        except UnicodeEncodeError as exc:
            raise InvalidContentError(
                f"{operation}: a field cannot be sent as {self.encoding.upper()}: "
                f"{exc.object[exc.start : exc.end]!r}"
            ) from None
        del form
        charset = "GBK" if self.encoding == "gbk" else "UTF-8"
        headers = {"Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}
        logger.debug("POST %s method=%s", self.url, method)
        watch = _Deadline(self.deadline)
        if self.before_request is not None:
            self.before_request()
        with watch:
            try:
                response = self.session.post(
                    self.url,
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.exceptions.ConnectTimeout:
                raise NotSentError(f"{operation}: connecting to the gateway timed out") from None
            except requests.exceptions.ReadTimeout:
                raise OutcomeUnknownError(
                    f"{operation}: the gateway did not answer within {self.timeout[1]} s"
                ) from None
            except requests.exceptions.ConnectionError as exc:
                if watch.expired:
                    raise OutcomeUnknownError(
                        f"{operation}: no answer within the {self.deadline:g} s deadline"
                    ) from None
                if _never_connected(exc):
                    raise NotSentError(f"{operation}: cannot connect to the gateway") from None
                raise OutcomeUnknownError(
                    f"{operation}: the connection broke before an answer came back"
                ) from None
            except requests.exceptions.RequestException as exc:
                raise OutcomeUnknownError(
                    f"{operation}: the request failed ({type(exc).__name__})"
                ) from None
            with response:
                content = _read_limited(
                    response, limit or parsing.MAX_ANSWER_BODY_BYTES, operation, watch
                )
                if response.status_code != 200:
                    raise MalformedResponseError(
                        f"{operation}: the gateway answered HTTP {response.status_code}", content
                    )
        return content

    # ------------------------------------------------------------------ operations

    def get_balance(self) -> Balance:
        """The account's balance, and how many messages it buys."""
        return parsing.parse_balance(self._post("getAmount", BALANCE))

    def build_request(
        self,
        mobiles: Mobiles,
        content: str | None = None,
        *,
        template_id: str | None = None,
        params: Params | None = None,
        extcode: object = None,
        send_at: dt.datetime | None = None,
        sign_index: int | None = None,
    ) -> SendRequest:
        """Validate a submission in this client's encoding without sending it."""
        return build_send_request(
            mobiles,
            content,
            template_id=template_id,
            params=params,
            extcode=extcode,
            send_at=send_at,
            sign_index=sign_index,
            encoding=self.encoding,
        )

    def send(
        self,
        mobiles: Mobiles,
        content: str | None = None,
        *,
        template_id: str | None = None,
        params: Params | None = None,
        extcode: object = None,
        send_at: dt.datetime | None = None,
        sign_index: int | None = None,
    ) -> SendResult:
        """Validate, then send one SMS to 1–100 numbers.

        A normal message takes ``content``; a template message takes ``template_id`` and
        ``params`` (``{1: "李先生", 2: "928371"}`` or a list, first value for ``@1@``).
        ``send_at`` is an aware datetime; the gateway holds the message until then.
        """
        request = self.build_request(
            mobiles,
            content,
            template_id=template_id,
            params=params,
            extcode=extcode,
            send_at=send_at,
            sign_index=sign_index,
        )
        return self.submit(request)

    def submit(self, request: SendRequest) -> SendResult:
        """Send a request that :func:`build_send_request` has already validated."""
        fields = {
            "mobile": ",".join(request.mobiles),
            "content": request.content,
            "msgtype": str(request.msgtype),
        }
        if request.template_id:
            fields["tempid"] = request.template_id
        if request.extcode:
            fields["extcode"] = request.extcode
        if request.send_at is not None:
            fields["sendtime"] = request.sendtime
        if request.sign_index is not None:
            fields["signtag"] = str(request.sign_index)
        method = "sendGbkMsg" if self.encoding == "gbk" else "sendUtf8Msg"
        return parsing.parse_send(self._post(method, SEND, fields), request.mobiles)

    def fetch_reports(self) -> RawResponse:
        """The raw queryReport body. Reports come once only: store it before parsing."""
        body = self._post("queryReport", REPORTS, limit=parsing.MAX_QUERY_BODY_BYTES)
        return RawResponse(REPORTS, body)

    def fetch_inbound(self) -> RawResponse:
        """The raw queryMo body. Replies come once only: store it before parsing."""
        body = self._post("queryMo", INBOUND, limit=parsing.MAX_QUERY_BODY_BYTES)
        return RawResponse(INBOUND, body)

    def query_reports(self) -> list[DeliveryReport]:
        """Fetch and parse delivery reports; an empty list when there are none."""
        return parsing.parse_reports(self.fetch_reports().body)

    def query_inbound(self) -> list[InboundSMS]:
        """Fetch and parse replies; an empty list when there are none."""
        return parsing.parse_inbound(self.fetch_inbound().body)


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made (refused, DNS, connect timeout), so the
    request cannot have reached the gateway."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError)):
            return True
        pending.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return False


def _read_limited(
    response: requests.Response, limit: int, operation: str, watch: _Deadline
) -> bytes:
    """The whole body, or :class:`ResponseCutOffError` holding every byte that came.

    urllib3 would raise on a short body and drop the bytes of the last read, so the
    Content-Length is checked here instead, after everything that came has been kept.
    """
    raw = response.raw
    if hasattr(raw, "enforce_content_length"):
        raw.enforce_content_length = False
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            chunks.append(chunk)
            if size > limit:
                raise ResponseCutOffError(
                    f"{operation}: the answer is over {limit} bytes; reading stopped there",
                    b"".join(chunks),
                )
    except requests.exceptions.RequestException as exc:
        if watch.expired:
            reason = f"it did not finish within the {watch.seconds:g} s deadline"
        else:
            reason = f"the connection broke ({type(exc).__name__})"
        raise ResponseCutOffError(
            f"{operation}: the answer broke off after {size} bytes: {reason}", b"".join(chunks)
        ) from None
    if watch.expired:
        raise ResponseCutOffError(
            f"{operation}: the answer did not finish within the {watch.seconds:g} s deadline",
            b"".join(chunks),
        )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and hasattr(raw, "tell") and raw.tell() < int(declared):
        raise ResponseCutOffError(
            f"{operation}: the answer broke off after {raw.tell()} of {declared} bytes",
            b"".join(chunks),
        )
    return b"".join(chunks)


# --------------------------------------------------------------------------- deadline

_current = threading.local()


class _Deadline:
    """A watchdog for one request: when ``seconds`` pass, it shuts the request's socket
    down, so whatever read is blocked returns at once. The connection the request uses
    registers itself through :class:`_WatchedConnection`."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or 0.0
        self.expired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _Deadline:
        if self.seconds:
            self._timer = threading.Timer(self.seconds, self._expire)
            self._timer.daemon = True
            self._timer.start()
        _current.deadline = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        _current.deadline = None
        if self._timer is not None:
            self._timer.cancel()

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            _shutdown(self._sock)


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _attach_current(conn: HTTPConnection) -> None:
    watch: _Deadline | None = getattr(_current, "deadline", None)
    if watch is not None:
        watch.attach(conn.sock)


class _Watched:
    """Registers the connection's socket with the current :class:`_Deadline` before the
    request's bytes go out (connecting first, as the request would)."""

    sock: socket.socket | None

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.sock is None:
            self.connect()  # type: ignore[attr-defined]
        _attach_current(self)  # type: ignore[arg-type]
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections let :class:`_Deadline` find their socket."""

    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedPool,
            "https": _WatchedHTTPSPool,
        }
