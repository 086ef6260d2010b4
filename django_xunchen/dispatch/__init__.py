"""Dispatch: claim queued rows, submit them to a backend (with fallback accounts), and
record each request's outcome.
"""

from .claim import stale_after
from .fallback import fallbacks
from .queue import send_queued
from .submit import Backends, SendOutcome, WireText, dispatch

__all__ = [
    "Backends",
    "SendOutcome",
    "WireText",
    "dispatch",
    "fallbacks",
    "send_queued",
    "stale_after",
]
