"""The fake gateway's accounts, messages, reports and replies, and its protocol logic.

Nothing here touches sockets: :mod:`.server` feeds it decoded requests, and tests may call
it directly. All state sits behind one lock, since the server answers on many threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from . import responses

#: Each accepted SMS is logged at INFO with its text: the fake gateway stands for the
#: handsets, so that a developer can read what "arrived" (a verification code included).
logger = logging.getLogger("django_xunchen.fake_gateway")

CHINA_TZ = ZoneInfo("Asia/Shanghai")
SEND_METHODS = {"sendMsg", "sendUtf8Msg", "sendGbkMsg"}
QUERY_METHODS = {"getAmount", "queryReport", "queryMo"}
PRICE_PER_MESSAGE = Decimal("0.1")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_PARAM = re.compile(r"@(\d+)@=(.*)", re.DOTALL)
_PLACEHOLDER = re.compile(r"@(\d+)@")
FAULT_KINDS = ("latency", "http500", "truncated", "garbage", "drop", "cutoff", "trickle")
R = TypeVar("R")


@dataclass
class Account:
    username: str = "JSM40001"
    password: str = "123456"  # noqa: S105 - the vendor's sample account, not a secret
    very_code: str = "453245"
    balance: Decimal = Decimal("5000")
    sender: str = "106905994140010"
    enabled: bool = True
    http_enabled: bool = True
    allowed_ips: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ("【江苏迅辰】",)
    templates: dict[str, str] = field(default_factory=dict)


@dataclass
class Submission:
    """One accepted send request, as the gateway understood it."""

    msgid: str
    method: str
    mobiles: tuple[str, ...]
    content: str
    text: str
    msgtype: int
    template_id: str
    extcode: str
    sendtime: str
    signtag: str
    username: str
    accepted_at: float


@dataclass
class ReportRecord:
    mobile: str
    msgid: str
    status: str
    time: str
    extno: str
    due: float


@dataclass
class ReplyRecord:
    mobile: str
    recvcode: str
    content: str
    time: str


@dataclass
class Fault:
    """A fault to apply to the next ``times`` matching requests.

    ``kind``: ``latency`` (answer after ``seconds``), ``http500``, ``truncated`` (half the
    XML), ``garbage`` (not XML), ``drop`` (close the connection without answering),
    ``cutoff`` (announce the whole body's Content-Length, send half of it, close the
    connection), or ``trickle`` (send the answer one byte every ``seconds``).
    ``after_processing``: the request is carried out before the fault (a send is accepted
    and charged, records are consumed), as when a reply is lost on the way back.
    ``method``: only requests for this protocol method (``sendUtf8Msg``, ``queryReport``…).
    """

    kind: str
    seconds: float = 0.0
    method: str | None = None
    after_processing: bool = True
    times: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}")


@dataclass
class Outcome:
    """What the server should write back."""

    body: bytes
    status: int = 200
    delay: float = 0.0
    drop: bool = False
    content_type: str = "text/xml;charset=UTF-8"
    #: Bytes of ``body`` to send before closing the connection (``cutoff``).
    send_only: int | None = None
    #: Seconds between two bytes of the body (``trickle``).
    trickle: float = 0.0


def _now_text(now: float) -> str:
    return dt.datetime.fromtimestamp(now, CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def segments(text: str) -> int:
    """How many SMS the operator bills: 70 characters in one, 67 per part beyond that."""
    return 1 if len(text) <= 70 else math.ceil(len(text) / 67)


class GatewayState:
    """Everything the fake gateway knows. Thread-safe."""

    def __init__(
        self,
        accounts: Iterable[Account] | None = None,
        *,
        report_delay: float = 0.0,
        failure_rate: float = 0.0,
        failure_statuses: tuple[str, ...] = ("MA:0006", "UNDELIV", "EXPIRED"),
        undeliverable: Iterable[str] = (),
        blocked_words: Iterable[str] = (),
        msgid_style: str = "hex",
        response_encoding: str = "utf-8",
        max_records: int | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts = {a.username: a for a in (accounts or [Account()])}
        self.report_delay = report_delay
        self.failure_rate = failure_rate
        self.failure_statuses = failure_statuses
        self.undeliverable = set(undeliverable)
        self.blocked_words = list(blocked_words)
        self.msgid_style = msgid_style
        self.response_encoding = response_encoding
        self.max_records = max_records
        self.clock = clock
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.submissions: list[Submission] = []
        self.reports: dict[str, list[ReportRecord]] = {u: [] for u in self.accounts}
        self.replies: dict[str, list[ReplyRecord]] = {u: [] for u in self.accounts}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, str]] = []
        self._numeric_msgid = 7506751276725633025

    # ------------------------------------------------------------------ control

    @property
    def default_account(self) -> Account:
        return next(iter(self.accounts.values()))

    def add_template(self, template_id: str, body: str, username: str | None = None) -> None:
        with self.lock:
            account = self.accounts[username] if username else self.default_account
            account.templates[template_id] = body

    def inject_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def inject_reply(
        self,
        mobile: str,
        content: str,
        extcode: str = "",
        *,
        username: str | None = None,
        received_at: dt.datetime | None = None,
    ) -> ReplyRecord:
        """Queue a reply from ``mobile``, as if sent to the sender number plus ``extcode``."""
        with self.lock:
            account = self.accounts[username] if username else self.default_account
            when = received_at.timestamp() if received_at else self.clock()
            record = ReplyRecord(mobile, account.sender + extcode, content, _now_text(when))
            self.replies[account.username].append(record)
            return record

    def deliver_now(self) -> int:
        """Make every pending report due at once; returns how many are pending."""
        with self.lock:
            count = 0
            for pending in self.reports.values():
                for record in pending:
                    record.due = min(record.due, self.clock())
                    count += 1
            return count

    def pending_reports(self) -> int:
        with self.lock:
            return sum(len(r) for r in self.reports.values())

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {
                "accounts": {
                    u: {"balance": str(a.balance), "templates": a.templates}
                    for u, a in self.accounts.items()
                },
                "submissions": len(self.submissions),
                "pending_reports": self.pending_reports(),
                "pending_replies": sum(len(r) for r in self.replies.values()),
            }

    # ------------------------------------------------------------------ protocol

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in (None, method):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def handle(self, form: dict[str, str], client_ip: str = "127.0.0.1") -> Outcome:
        """Answer one protocol request, faults included."""
        with self.lock:
            method = form.get("method", "").strip()
            self.requests.append(dict(form))
            fault = self._take_fault(method)
            if fault and fault.kind == "latency":
                outcome = self._answer(method, form, client_ip)
                outcome.delay = fault.seconds
                return outcome
            if fault and not fault.after_processing:
                return self._fault_outcome(fault, b"")
            outcome = self._answer(method, form, client_ip)
            if fault:
                return self._fault_outcome(fault, outcome.body)
            return outcome

    @staticmethod
    def _fault_outcome(fault: Fault, body: bytes) -> Outcome:
        if fault.kind == "http500":
            return Outcome(
                b"<html><body>500 Internal Server Error</body></html>",
                status=500,
                content_type="text/html",
            )
        if fault.kind == "truncated":
            body = body or responses.status("0")
            return Outcome(body[: len(body) // 2], delay=fault.seconds)
        if fault.kind == "cutoff":
            body = body or responses.status("0")
            return Outcome(body, delay=fault.seconds, send_only=len(body) // 2)
        if fault.kind == "trickle":
            return Outcome(body or responses.status("0"), trickle=fault.seconds or 0.5)
        if fault.kind == "garbage":
            return Outcome(
                b"\x00\xffProxy error: upstream gone\r\n",
                delay=fault.seconds,
                content_type="text/plain",
            )
        return Outcome(b"", drop=True, delay=fault.seconds)

    def _xml(self, text: str) -> bytes:
        return responses.encode(text, self.response_encoding)

    def _answer(self, method: str, form: dict[str, str], client_ip: str) -> Outcome:
        if method not in SEND_METHODS | QUERY_METHODS:
            return Outcome(self._xml(responses.status_text("103")))
        account = self.accounts.get(form.get("username", "").strip())
        if account is None or account.password != form.get("password", ""):
            return Outcome(self._xml(responses.status_text("101")))
        if not account.enabled:
            return Outcome(self._xml(responses.status_text("102")))
        if form.get("veryCode", "") != account.very_code:
            code = "116" if method in SEND_METHODS else "105"
            return Outcome(self._xml(responses.status_text(code)))
        if not account.http_enabled:
            return Outcome(self._xml(responses.status_text("117")))
        if method == "getAmount":
            return Outcome(self._xml(responses.balance_text(account.balance)))
        if method == "queryReport":
            return Outcome(self._xml(self._query_reports(account)))
        if method == "queryMo":
            return Outcome(self._xml(self._query_replies(account)))
        if account.allowed_ips and client_ip not in account.allowed_ips:
            return Outcome(self._xml(responses.status_text("109")))
        return Outcome(self._xml(self._send(method, form, account)))

    def _take(self, records: list[R], ready: Callable[[R], bool]) -> list[R]:
        taken = [r for r in records if ready(r)]
        if self.max_records is not None:
            taken = taken[: self.max_records]
        gone = {id(r) for r in taken}
        records[:] = [r for r in records if id(r) not in gone]
        return taken

    def _query_reports(self, account: Account) -> str:
        now = self.clock()
        taken = self._take(self.reports[account.username], lambda r: r.due <= now)
        if not taken:
            return responses.status_text("104", error_shape=True)
        return responses.reports_text(taken)

    def _query_replies(self, account: Account) -> str:
        taken = self._take(self.replies[account.username], lambda r: True)
        if not taken:
            return responses.status_text("104", error_shape=True)
        return responses.replies_text(taken)

    def _new_msgid(self) -> str:
        if self.msgid_style == "numeric":
            self._numeric_msgid += 1
            return str(self._numeric_msgid)
        return uuid.uuid4().hex

    def _send(self, method: str, form: dict[str, str], account: Account) -> str:
        mobiles = [m.strip() for m in form.get("mobile", "").split(",") if m.strip()]
        content = form.get("content", "").strip()
        msgtype = form.get("msgtype", "").strip()
        template_id = form.get("tempid", "").strip()
        extcode = form.get("extcode", "").strip()
        sendtime = form.get("sendtime", "").strip()
        signtag = form.get("signtag", "").strip()
        if not mobiles or msgtype not in ("1", "2"):
            return responses.status_text("103")
        if len(mobiles) > 100 or not all(_MOBILE.fullmatch(m) for m in mobiles):
            return responses.status_text("106")
        if extcode and not re.fullmatch(r"\d{1,4}", extcode):
            return responses.status_text("103")
        if sendtime:
            try:
                dt.datetime.strptime(sendtime, "%Y%m%d%H%M%S")
            except ValueError:
                return responses.status_text("103")
        if signtag and not (signtag.isdigit() and 1 <= int(signtag) <= len(account.signatures)):
            return responses.status_text("115")
        if msgtype == "2":
            if not template_id:
                return responses.status_text("103")
            body = account.templates.get(template_id)
            if body is None:
                return responses.status_text("114")
            values = {}
            for part in content.split(",") if content else []:
                match = _PARAM.fullmatch(part.strip())
                if not match:
                    return responses.status_text("103")
                values[match.group(1)] = match.group(2)
            wanted = set(_PLACEHOLDER.findall(body))
            if wanted - set(values):
                return responses.status_text("103")
            text = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), body)
        else:
            if not content or len(content) > 300:
                return responses.status_text("105")
            text = content
        if len(text) > 300:
            return responses.status_text("105")
        blocked = [w for w in self.blocked_words if w in text]
        if blocked:
            return responses.status_text(f"110#({','.join(blocked)})")
        cost = PRICE_PER_MESSAGE * len(mobiles) * segments(text)
        if cost > account.balance:
            return responses.status_text("108")
        account.balance -= cost
        msgid = self._new_msgid()
        now = self.clock()
        self.submissions.append(
            Submission(
                msgid,
                method,
                tuple(mobiles),
                content,
                text,
                int(msgtype),
                template_id,
                extcode,
                sendtime,
                signtag,
                account.username,
                now,
            )
        )
        logger.info("accepted %s for %s: %s (%s)", msgid, ",".join(mobiles), text, account.username)
        start = now
        if sendtime:
            scheduled = dt.datetime.strptime(sendtime, "%Y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
            start = max(now, scheduled.timestamp())
        due = start + self.report_delay
        for mobile in mobiles:
            if mobile in self.undeliverable or self.random.random() < self.failure_rate:
                status = self.random.choice(self.failure_statuses)
            else:
                status = "DELIVRD"
            self.reports[account.username].append(
                ReportRecord(mobile, msgid, status, _now_text(due), extcode, due)
            )
        return responses.sent_text(msgid)
