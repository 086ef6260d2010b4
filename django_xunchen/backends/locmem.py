"""An in-memory backend for tests: sends land in ``django_xunchen.outbox``.

Tests can also queue failures, delivery reports and replies::

    from django_xunchen.backends import locmem

    locmem.fail_next(InsufficientBalanceError("108", "send"))
    locmem.deliver_all()                 # a DELIVRD report for every number in the outbox
    locmem.queue_reply("13800138000", "退订", extcode="12")

Each account has its own queues, as at the gateway: ``deliver_all()`` queues each report
on the account that sent the message, ``queue_reply(..., account="marketing")`` and
``fail_next(..., account="codes")`` target one account. Two settings accounts with the
same ``USERNAME`` share their queues, as two names for one gateway login do.

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
from ..conf import xunchen_settings
from ..exceptions import XunchenError
from ..fake_gateway import responses
from ..fake_gateway.state import ReplyRecord, ReportRecord
from .base import BaseSMSBackend


@dataclass(frozen=True)
class SentSMS:
    """One request as the locmem backend received it, and the account it went out on."""

    msgid: str
    request: SendRequest
    account: str = "default"

    @property
    def mobiles(self) -> tuple[str, ...]:
        return self.request.mobiles

    @property
    def content(self) -> str:
        return self.request.content


outbox: list[SentSMS] = []
balance = Balance(amount=Decimal("1000"), messages=10000)
_failures: deque[tuple[str | None, BaseException]] = deque()
_reports: dict[str, list[ReportRecord]] = {}
_replies: dict[str, list[ReplyRecord]] = {}
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


def fail_next(error: BaseException, times: int = 1, account: str | None = None) -> None:
    """Make the next ``times`` sends (on ``account`` only, if given) raise ``error`` (any
    exception of :mod:`django_xunchen.exceptions`)."""
    with _lock:
        _failures.extend([(account, error)] * times)


def _take_failure(account: str) -> BaseException | None:
    for entry in _failures:
        if entry[0] in (None, account):
            _failures.remove(entry)
            return entry[1]
    return None


def _queue(account: str) -> str:
    """The queue of ``account``: its ``USERNAME`` when set, else its name."""
    return xunchen_settings(account)["USERNAME"] or account


def _sender(account: str) -> str:
    return xunchen_settings(account)["SENDER_NUMBER"] or SENDER_NUMBER


def _now() -> str:
    return dt.datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def queue_report(
    mobile: str, msgid: str, status: str = "DELIVRD", extno: str = "", account: str = "default"
) -> None:
    """Make the next report query of ``account`` return a report for ``(msgid, mobile)``."""
    with _lock:
        record = ReportRecord(mobile, msgid, status, _now(), extno, 0.0)
        _reports.setdefault(_queue(account), []).append(record)


def deliver_all(status: str = "DELIVRD") -> int:
    """Queue a report with ``status`` for every number in the outbox, on the account
    that sent it; returns how many."""
    with _lock:
        count = 0
        for sent in outbox:
            for mobile in sent.mobiles:
                queue_report(
                    mobile, sent.msgid, status, sent.request.extcode or "", account=sent.account
                )
                count += 1
        return count


def queue_reply(mobile: str, content: str, extcode: str = "", account: str = "default") -> None:
    """Make the next reply query of ``account`` return a reply from ``mobile`` to that
    account's sender number + ``extcode``."""
    with _lock:
        record = ReplyRecord(mobile, _sender(account) + extcode, content, _now())
        _replies.setdefault(_queue(account), []).append(record)


class SMSBackend(BaseSMSBackend):
    """A queued failure that is an error of :mod:`django_xunchen.exceptions` is raised as
    the gateway's answer, after the request "left"; any other exception is raised before,
    as a bug in a backend would be."""

    sends_externally = False
    tracks_request_start = True

    @property
    def queue_id(self) -> str:
        return "locmem:" + _queue(self.account)

    def send(self, request: SendRequest) -> SendResult:
        with _lock:
            failure = _take_failure(self.account)
            if failure is not None and not isinstance(failure, XunchenError):
                raise failure
            self.mark_request_started()
            if failure is not None:
                raise failure
            msgid = f"locmem-{next(_counter):08d}"
            outbox.append(SentSMS(msgid=msgid, request=request, account=self.account))
        return SendResult(msgid=msgid, mobiles=request.mobiles)

    def get_balance(self) -> Balance:
        return balance

    def fetch_reports(self) -> RawResponse:
        with _lock:
            records = _reports.pop(_queue(self.account), [])
        if not records:
            return super().fetch_reports()
        return RawResponse("queryReport", responses.reports_text(records).encode())

    def fetch_inbound(self) -> RawResponse:
        with _lock:
            records = _replies.pop(_queue(self.account), [])
        if not records:
            return super().fetch_inbound()
        return RawResponse("queryMo", responses.replies_text(records).encode())
