"""Receive django-xunchen webhooks: check the signature, then act on the event.

    XUNCHEN_WEBHOOK_SECRET=whsec_… python receiver.py 8000

Standard library only; copy :func:`verify` into your service. Each POST's body is an
event, ``{"id": …, "type": "message.delivered", "created": …, "data": {…}}``, signed in
the ``X-Xunchen-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256>`` of
``f"{t}.".encode() + body`` under the endpoint's secret. Verify the raw bytes before
parsing them. Answer 2xx quickly; anything else, or no answer within the timeout, is
retried later. A retry carries the same event id: keep the ids you have handled and
skip them.
"""

import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300
MAX_BODY = 1024 * 1024


def verify(secret: str, body: bytes, header: str, tolerance: int = TOLERANCE) -> dict:
    """The event in ``body``, if ``header`` signs it with ``secret`` within ``tolerance``
    seconds of now; otherwise ValueError."""
    timestamps, signatures = [], []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value.encode())
    if len(timestamps) != 1 or not (timestamps[0].isascii() and timestamps[0].isdigit()):
        raise ValueError("malformed signature header")
    timestamp = int(timestamps[0])
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise ValueError("no valid signature")
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError("signature too old, or the clocks differ")
    return json.loads(body)


class Receiver(BaseHTTPRequestHandler):
    secret = ""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        try:
            event = verify(self.secret, body, self.headers.get("X-Xunchen-Signature", ""))
        except ValueError as exc:
            self.send_error(400, str(exc))
            return
        print(event["id"], event["type"], json.dumps(event.get("data"), ensure_ascii=False))
        self.send_response(204)
        self.end_headers()


def main() -> None:
    Receiver.secret = os.environ["XUNCHEN_WEBHOOK_SECRET"]
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    with ThreadingHTTPServer(("", port), Receiver) as server:
        print(f"listening on port {port}", file=sys.stderr)
        server.serve_forever()


if __name__ == "__main__":
    main()
