"""A webhook receiver on 127.0.0.1 (real HTTP), and endpoints pointed at it."""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from django_xunchen.models import WebhookEndpoint
from django_xunchen.webhooks import endpoints

ROOT = Path(__file__).resolve().parents[2]


def documented_receiver():
    """docs/examples/webhooks/receiver.py, the receiver the docs tell services to copy."""
    path = ROOT / "docs" / "examples" / "webhooks" / "receiver.py"
    spec = importlib.util.spec_from_file_location("documented_receiver", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What arrived, and the statuses to answer with, in order (then 200)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    answer: bytes = b"ok"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def events(self) -> list[dict]:
        with self.lock:
            return [r.event for r in self.received]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.received.append(Received(dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(state.answer)))
            self.end_headers()
            self.wfile.write(state.answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sms"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_private(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "WEBHOOKS": {"ALLOW_PRIVATE_ADDRESSES": True, "TIMEOUT": 3},
    }


def make_endpoint(url: str, events: list[str], **fields) -> tuple[WebhookEndpoint, str]:
    """A saved endpoint and its secret."""
    endpoint = WebhookEndpoint(name=fields.pop("name", "orders"), url=url, events=events, **fields)
    secret = endpoints.save_endpoint(endpoint)
    return endpoint, secret
