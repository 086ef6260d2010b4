"""A backend that does nothing: every send is accepted and forgotten."""

from __future__ import annotations

import uuid
from decimal import Decimal

from ..client.types import Balance, SendRequest, SendResult
from .base import BaseSMSBackend


class SMSBackend(BaseSMSBackend):
    sends_externally = False
    tracks_request_start = True

    def send(self, request: SendRequest) -> SendResult:
        self.mark_request_started()
        return SendResult(msgid=uuid.uuid4().hex, mobiles=request.mobiles)

    def get_balance(self) -> Balance:
        return Balance(amount=Decimal(0), messages=0)
