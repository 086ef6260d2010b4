"""The fake gateway over HTTP: the vendor's endpoint plus a few control endpoints.

Protocol: ``/service/httpService/httpInterface.do`` (POST form or GET query string, as the
real one accepts). Control, outside the vendor's path (form-encoded POSTs):

- ``POST /fake/inbound``: ``mobile``, ``content``, optional ``extcode`` and ``username``
  (the account; the first by default) → queue a reply.
- ``POST /fake/faults``: ``kind``, optional ``seconds``, ``method``, ``after_processing``
  (``0``/``1``), ``times`` → inject a fault.
- ``POST /fake/templates``: ``template_id``, ``body`` → register a template.
- ``POST /fake/deliver``: make every pending delivery report due now.
- ``GET /fake/state``: balances, counts, templates (JSON).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import responses
from .state import Account, Fault, GatewayState, Outcome, Submission

ENDPOINT_PATH = "/service/httpService/httpInterface.do"
logger = logging.getLogger("django_xunchen.fake_gateway")


def decode_form(body: bytes, query: str = "") -> tuple[dict[str, str], bool]:
    """The request's fields, decoded as the real gateway would: ``sendUtf8Msg`` as UTF-8,
    ``sendGbkMsg`` as GBK, ``sendMsg`` by its ``code`` field (GBK by default), queries as
    UTF-8. Returns the fields and whether the text decoded cleanly."""
    ascii_view = dict(parse_qsl(query, encoding="latin-1"))
    ascii_view.update(parse_qsl(body.decode("latin-1"), encoding="latin-1"))
    method = ascii_view.get("method", "")
    if method == "sendGbkMsg":
        encoding = "gbk"
    elif method == "sendMsg":
        encoding = "utf-8" if ascii_view.get("code", "gbk").lower() in ("utf-8", "utf8") else "gbk"
    else:
        encoding = "utf-8"
    try:
        fields = dict(parse_qsl(query, encoding=encoding, errors="strict"))
        fields.update(parse_qsl(body.decode(encoding), encoding=encoding, errors="strict"))
        return fields, True
    except UnicodeDecodeError:
        return ascii_view, False


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "XunchenFake/1.0"
    # The headers and the body go out in separate writes; with Nagle's algorithm on, a
    # client on a kept-alive connection waits for its delayed ACK (about 40 ms) on every
    # request after the first.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, outcome: Outcome) -> None:
        if outcome.delay:
            time.sleep(outcome.delay)
        if outcome.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        self.send_response(outcome.status)
        self.send_header("Content-Type", outcome.content_type)
        self.send_header("Content-Length", str(len(outcome.body)))
        self.end_headers()
        if outcome.send_only is not None:
            self.wfile.write(outcome.body[: outcome.send_only])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)
            return
        if outcome.trickle:
            self.close_connection = True
            with contextlib.suppress(OSError):
                for i in range(len(outcome.body)):
                    self.wfile.write(outcome.body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(outcome.trickle)
            return
        self.wfile.write(outcome.body)

    def _json(self, payload: object, status: int = 200) -> None:
        body = json.dumps(payload, ensure_ascii=False, default=str).encode()
        self._write(Outcome(body, status=status, content_type="application/json"))

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == ENDPOINT_PATH:
            self._protocol(b"", parts.query)
        elif parts.path == "/fake/state":
            self._json(self.server.state.snapshot())
        else:
            self._json({"error": "not found"}, status=404)

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        body = self._body()
        if parts.path == ENDPOINT_PATH:
            self._protocol(body, parts.query)
            return
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        state = self.server.state
        try:
            if parts.path == "/fake/inbound":
                record = state.inject_reply(
                    form["mobile"],
                    form["content"],
                    form.get("extcode", ""),
                    username=form.get("username") or None,
                )
                self._json({"recvcode": record.recvcode, "time": record.time})
            elif parts.path == "/fake/faults":
                state.inject_fault(
                    Fault(
                        kind=form["kind"],
                        seconds=float(form.get("seconds", 0)),
                        method=form.get("method") or None,
                        after_processing=form.get("after_processing", "1") != "0",
                        times=int(form.get("times", 1)),
                    )
                )
                self._json({"ok": True})
            elif parts.path == "/fake/templates":
                state.add_template(form["template_id"], form["body"])
                self._json({"ok": True})
            elif parts.path == "/fake/deliver":
                self._json({"pending": state.deliver_now()})
            else:
                self._json({"error": "not found"}, status=404)
        except (KeyError, ValueError) as exc:
            self._json({"error": f"bad request: {exc}"}, status=400)

    def _protocol(self, body: bytes, query: str) -> None:
        fields, clean = decode_form(body, query)
        state = self.server.state
        if not clean and fields.get("method", "") in ("sendMsg", "sendUtf8Msg", "sendGbkMsg"):
            with state.lock:
                state.requests.append(dict(fields))
            self._write(Outcome(responses.status("105")))
            return
        self._write(state.handle(fields, client_ip=self.client_address[0]))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: GatewayState) -> None:
        self.state = state
        super().__init__(address, _Handler)


class FakeGateway:
    """A fake Xunchen gateway on a local port, for tests, demos and development.

    >>> with FakeGateway() as gateway:            # a free port on 127.0.0.1
    ...     client = XunchenClient(gateway.base_url, *gateway.credentials)
    ...     client.send("13800138000", "hello")
    ...     gateway.submissions[-1].mobiles
    ('13800138000',)

    Keyword arguments go to :class:`~.state.GatewayState` (``report_delay``,
    ``failure_rate``, ``undeliverable``, ``blocked_words``, ``msgid_style``,
    ``response_encoding``, ``max_records``, ``seed``, ``clock``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account: Account | None = None,
        accounts: list[Account] | None = None,
        **options: object,
    ) -> None:
        accounts = accounts or [account or Account()]
        self.state = GatewayState(accounts, **options)  # type: ignore[arg-type]
        self.host, self.port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeGateway:
        self._server = _Server((self.host, self.port), self.state)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="xunchen-fake-gateway",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self) -> None:
        self._server = _Server((self.host, self.port), self.state)
        self.port = self._server.server_address[1]
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def __enter__(self) -> FakeGateway:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + ENDPOINT_PATH

    @property
    def account(self) -> Account:
        return self.state.default_account

    @property
    def credentials(self) -> tuple[str, str, str]:
        """``(username, password, very_code)`` of the default account."""
        a = self.account
        return a.username, a.password, a.very_code

    def account_settings(self, username: str | None = None) -> dict[str, object]:
        """The ``XUNCHEN`` settings of one of its accounts (the first by default), for
        ``XUNCHEN["ACCOUNTS"][name]`` or the top level::

            XUNCHEN = {"ACCOUNTS": {"default": gw.account_settings("A"),
                                    "codes": gw.account_settings("B")}}
        """
        account = self.state.accounts[username] if username else self.account
        return {
            "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
            "BASE_URL": self.base_url,
            "USERNAME": account.username,
            "PASSWORD": account.password,
            "VERY_CODE": account.very_code,
            "SENDER_NUMBER": account.sender,
        }

    @property
    def submissions(self) -> list[Submission]:
        return self.state.submissions

    @property
    def requests(self) -> list[dict[str, str]]:
        """Every protocol request received, as decoded fields (credentials included)."""
        return self.state.requests

    def add_template(self, template_id: str, body: str, username: str | None = None) -> None:
        self.state.add_template(template_id, body, username)

    def inject_reply(self, mobile: str, content: str, extcode: str = "", **kwargs: object):
        return self.state.inject_reply(mobile, content, extcode, **kwargs)  # type: ignore[arg-type]

    def inject_fault(self, kind: str, **kwargs: object) -> None:
        self.state.inject_fault(Fault(kind, **kwargs))  # type: ignore[arg-type]

    def deliver_now(self) -> int:
        return self.state.deliver_now()
