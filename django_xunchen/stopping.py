"""Ending a runner cleanly on SIGTERM or SIGINT.

A process manager stops ``poll_sms``, ``send_queued`` or a worker with SIGTERM, and a
person with Ctrl-C. Killed at once, a runner could leave a request whose outcome is never
written (its rows end ``unknown``) or a poll lock that blocks the account until it
expires. Inside :func:`graceful`, the first signal only asks to stop: the request or
fetch in flight finishes and its outcome is written, nothing more is submitted or
fetched (the loops ask :func:`requested` before each), the locks are released, and the
command exits 128 + the signal's number (143 for SIGTERM, 130 for SIGINT). A second
signal stops at once.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

logger = logging.getLogger("django_xunchen.stopping")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_received: list[int] = []


def requested() -> bool:
    """Whether a stop was asked for: submit or fetch nothing more."""
    return bool(_received)


def exit_code() -> int | None:
    """128 + the number of the signal that asked to stop, or ``None``."""
    return 128 + _received[0] if _received else None


def request(signum: int = signal.SIGTERM) -> None:
    """Ask the running loops to stop, as the signal ``signum`` would."""
    if not _received:
        _received.append(signum)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _received:
        raise SystemExit(128 + signum)
    request(signum)
    logger.warning(
        "%s received: finishing the request in flight, then stopping (send it again to "
        "stop at once)",
        signal.Signals(signum).name,
    )


@contextlib.contextmanager
def graceful() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into a request to stop while the block runs; read
    :func:`exit_code` before the block ends. Outside the main thread (signals cannot be
    caught there) no handler is installed."""
    _received.clear()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, _handle) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _received.clear()
