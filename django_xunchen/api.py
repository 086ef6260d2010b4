"""The public functions, re-exported from ``django_xunchen``."""

from __future__ import annotations

from .backends import get_backend
from .client.types import Balance
from .polling import PollResult, poll
from .sending import resend, send_queued, send_sms

__all__ = ["PollResult", "get_balance", "poll", "resend", "send_queued", "send_sms"]


def get_balance(*, backend: str | None = None) -> Balance:
    """The account's balance and the number of messages it buys."""
    with get_backend(backend) as sms_backend:
        return sms_backend.get_balance()
