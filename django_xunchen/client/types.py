"""The values the protocol client takes and returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from .secret import MASK


class PhoneNumberLike(Protocol):
    """A phone-number object: ``phonenumbers.PhoneNumber``, django-phonenumber-field's
    ``PhoneNumber``, or anything with these two integers (see
    :func:`~django_xunchen.client.validation.phone_number_parts`)."""

    country_code: int
    national_number: int


#: One mobile number as the API takes it: ``"13800138000"``, ``"+86 138 0013 8000"``,
#: ``13800138000`` or a +86 phone-number object.
Mobile = str | int | PhoneNumberLike
#: One or more: a string may hold several, separated by commas, semicolons or new lines.
Mobiles = Mobile | Iterable[Mobile]

#: The gateway's clock: every time it sends or takes is China Standard Time.
CHINA_TZ = ZoneInfo("Asia/Shanghai")

NORMAL = 1
TEMPLATE = 2


@dataclass(frozen=True)
class Balance:
    """The account's balance; ``messages`` is what it buys (``amount × 10``)."""

    amount: Decimal
    messages: int


@dataclass(frozen=True)
class SendRequest:
    """One validated submission: up to 100 numbers that get the same text.

    Build it with :func:`django_xunchen.client.build_send_request`, which validates every
    field; the client and every backend take it as it is.

    ``sensitive``: the text carries a secret (a verification code). Its ``content`` and
    ``params`` values are then :class:`~django_xunchen.client.secret.Secret` strings and
    its repr masks both, so that a traceback, an error report or the debug page that
    shows the request shows no code. The wire gets the real text.
    """

    mobiles: tuple[str, ...]
    content: str
    msgtype: int = NORMAL
    template_id: str | None = None
    params: tuple[tuple[int, str], ...] = ()
    extcode: str | None = None
    send_at: dt.datetime | None = None
    sign_index: int | None = None
    sensitive: bool = field(default=False, compare=False)

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.sensitive:
            shown["content"] = MASK
            shown["params"] = tuple((n, MASK) for n, _ in self.params)
        inner = ", ".join(f"{name}={value!r}" for name, value in shown.items())
        return f"{type(self).__name__}({inner})"

    @property
    def is_template(self) -> bool:
        return self.msgtype == TEMPLATE

    @property
    def sendtime(self) -> str:
        """The scheduled time as the gateway takes it: ``yyyyMMddHHmmss`` in CST."""
        if self.send_at is None:
            return ""
        return self.send_at.astimezone(CHINA_TZ).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class SendResult:
    """The gateway accepted a submission; one ``msgid`` covers all its numbers."""

    msgid: str
    mobiles: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One number's delivery report. ``status`` is the operator's code, ``DELIVRD`` on
    success; ``delivered`` says whether it is that."""

    mobile: str
    msgid: str
    status: str
    delivered: bool
    reported_at: dt.datetime | None
    extno: str = ""


@dataclass(frozen=True, slots=True)
class InboundSMS:
    """A reply (MO message). ``recvcode`` is the number it was sent to: the account's
    sender number followed by the extcode of the message it answers, if any."""

    mobile: str
    recvcode: str
    content: str
    received_at: dt.datetime | None


@dataclass(frozen=True)
class RawResponse:
    """A response body exactly as it came off the wire, before any parsing."""

    operation: str
    body: bytes
    content_type: str = ""
