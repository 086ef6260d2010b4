"""A backend that prints what would be sent, for development."""

from __future__ import annotations

import sys
import threading
import uuid
from decimal import Decimal
from typing import Any, TextIO

from ..client.types import Balance, SendRequest, SendResult
from .base import BaseSMSBackend


class SMSBackend(BaseSMSBackend):
    """Writes each request to ``stream`` (standard output by default) and returns a fake
    msgid. Reports and replies: none."""

    sends_externally = False
    tracks_request_start = True

    def __init__(
        self, fail_silently: bool = False, stream: TextIO | None = None, **kwargs: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def send(self, request: SendRequest) -> SendResult:
        msgid = f"console-{uuid.uuid4().hex}"
        lines = [
            f"SMS {msgid}",
            f"To: {', '.join(request.mobiles)}",
        ]
        if request.template_id:
            lines.append(f"Template: {request.template_id}")
        if request.extcode:
            lines.append(f"Extcode: {request.extcode}")
        if request.send_at:
            lines.append(f"Send at: {request.send_at.isoformat()}")
        lines += ["", request.content, "-" * 79]
        self.mark_request_started()
        with self._lock:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        return SendResult(msgid=msgid, mobiles=request.mobiles)

    def get_balance(self) -> Balance:
        return Balance(amount=Decimal(0), messages=0)
