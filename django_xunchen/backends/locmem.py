"""An in-memory backend for tests: sends land in ``django_xunchen.outbox``.

Tests can also queue failures, delivery reports and replies::

    from django_xunchen.backends import locmem

    locmem.fail_next(InsufficientBalanceError("108", "send"))
    locmem.deliver_all()                 # a DELIVRD report for every number in the outbox
    locmem.queue_reply("13800138000", "退订", extcode="12")

``reset()`` empties all of it; the pytest plugin that ships with the package does so
before every test (fixture ``xunchen_outbox``), and :class:`~django_xunchen.testing.
XunchenTestMixin` does it for unittest-style tests.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from ..client.types import (
    CHINA_TZ,
    Balance,
    RawResponse,
    SendRequest,
    SendResult,
)
from ..exceptions import XunchenError
from ..fake_gateway import responses
from ..fake_gateway.state import ReplyRecord, ReportRecord
from .base import BaseSMSBackend


@dataclass(frozen=True)
class SentSMS:
    """One request as the locmem backend received it."""

    msgid: str
    request: SendRequest

    @property
    def mobiles(self) -> tuple[str, ...]:
        return self.request.mobiles

    @property
    def content(self) -> str:
        return self.request.content


outbox: list[SentSMS] = []
balance = Balance(amount=Decimal("1000"), messages=10000)
_failures: deque[BaseException] = deque()
_reports: list[ReportRecord] = []
_replies: list[ReplyRecord] = []
_counter = itertools.count(1)
_lock = threading.RLock()
SENDER_NUMBER = "106900000000"


def reset() -> None:
    """Empty the outbox and every queue."""
    with _lock:
        outbox.clear()
        _failures.clear()
        _reports.clear()
        _replies.clear()


def fail_next(error: BaseException, times: int = 1) -> None:
    """Make the next ``times`` sends raise ``error`` (any exception of
    :mod:`django_xunchen.exceptions`)."""
    with _lock:
        _failures.extend([error] * times)


def _now() -> str:
    return dt.datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def queue_report(mobile: str, msgid: str, status: str = "DELIVRD", extno: str = "") -> None:
    """Make the next report query return a report for ``(msgid, mobile)``."""
    with _lock:
        _reports.append(ReportRecord(mobile, msgid, status, _now(), extno, 0.0))


def deliver_all(status: str = "DELIVRD") -> int:
    """Queue a report with ``status`` for every number in the outbox; returns how many."""
    with _lock:
        count = 0
        for sent in outbox:
            for mobile in sent.mobiles:
                queue_report(mobile, sent.msgid, status, sent.request.extcode or "")
                count += 1
        return count


def queue_reply(mobile: str, content: str, extcode: str = "") -> None:
    """Make the next reply query return a reply from ``mobile`` to our number + extcode."""
    with _lock:
        _replies.append(ReplyRecord(mobile, SENDER_NUMBER + extcode, content, _now()))


class SMSBackend(BaseSMSBackend):
    """A queued failure that is an error of :mod:`django_xunchen.exceptions` is raised as
    the gateway's answer, after the request "left"; any other exception is raised before,
    as a bug in a backend would be."""

    sends_externally = False
    tracks_request_start = True

    def send(self, request: SendRequest) -> SendResult:
        with _lock:
            failure = _failures.popleft() if _failures else None
            if failure is not None and not isinstance(failure, XunchenError):
                raise failure
            self.mark_request_started()
            if failure is not None:
                raise failure
            msgid = f"locmem-{next(_counter):08d}"
            outbox.append(SentSMS(msgid=msgid, request=request))
        return SendResult(msgid=msgid, mobiles=request.mobiles)

    def get_balance(self) -> Balance:
        return balance

    def fetch_reports(self) -> RawResponse:
        with _lock:
            records = list(_reports)
            _reports.clear()
        if not records:
            return super().fetch_reports()
        return RawResponse("queryReport", responses.reports_text(records).encode())

    def fetch_inbound(self) -> RawResponse:
        with _lock:
            records = list(_replies)
            _replies.clear()
        if not records:
            return super().fetch_inbound()
        return RawResponse("queryMo", responses.replies_text(records).encode())
