"""Every error django-xunchen raises.

This module imports nothing from Django, so the protocol client can use it on its own.

The tree::

    XunchenError
    ├── XunchenValidationError (ValueError)      bad input, found before any network call
    │   ├── InvalidMobileError                   .invalid: every bad number
    │   ├── InvalidContentError
    │   ├── InvalidTemplateParamsError
    │   ├── InvalidExtcodeError
    │   ├── InvalidSendTimeError
    │   ├── InvalidKindError                     not verification, notification or marketing
    │   ├── InvalidAccountChoiceError            no such account, or it may not send that kind
    │   ├── LearnedBlockedWordsError             .words: the gateway refused them before
    │   └── MissingOptOutFooterError             a marketing template without 退订 footer
    ├── BalanceTooLowError                       a large send the balance would not cover
    ├── MonthlyCapError                          a send that would cross MONTHLY_CAP
    ├── GatewayError                             the gateway answered with a status code
    │   ├── RequestFailedError (100) ... AccessMethodNotEnabledError (117)
    │   └── UnknownStatusError                   a code the specification does not list
    └── TransportError                           no usable answer came back
        ├── NotSentError                         the request certainly never reached the gateway
        └── OutcomeUnknownError                  it went out; whether it was acted on is unknown
            ├── ResponseCutOffError              the answer stopped part-way; .received holds it
            └── MalformedResponseError           an HTTP error or a body that is not the protocol
                └── UnsafeXMLError               a DOCTYPE or entity declaration was refused

For sending, the difference between :class:`NotSentError` and :class:`OutcomeUnknownError`
matters: retrying after an unknown outcome may send the customer the same SMS twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

__all__ = [
    "AccessMethodNotEnabledError",
    "AccountDisabledError",
    "BalanceTooLowError",
    "BlockedWordsError",
    "ContentRejectedError",
    "GatewayError",
    "IPNotAllowedError",
    "InsufficientBalanceError",
    "InvalidAccountChoiceError",
    "InvalidAccountError",
    "InvalidContentError",
    "InvalidExtcodeError",
    "InvalidKindError",
    "InvalidMobileError",
    "InvalidParametersError",
    "InvalidSendTimeError",
    "InvalidTemplateParamsError",
    "InvalidVeryCodeError",
    "LearnedBlockedWordsError",
    "MalformedResponseError",
    "MissingOptOutFooterError",
    "MobilesRejectedError",
    "MonthlyCapError",
    "NotSentError",
    "OutcomeUnknownError",
    "RequestFailedError",
    "ResponseCutOffError",
    "SignatureNotFoundError",
    "TemplateNotFoundError",
    "TransportError",
    "UnknownStatusError",
    "UnsafeXMLError",
    "XunchenError",
    "XunchenValidationError",
    "gateway_error",
]

#: The protocol's operations, as named in exceptions and logs.
BALANCE = "getAmount"
SEND = "send"
REPORTS = "queryReport"
INBOUND = "queryMo"


class XunchenError(Exception):
    """Base class of every error this package raises."""


# --------------------------------------------------------------------------- validation


class XunchenValidationError(XunchenError, ValueError):
    """Input that the gateway would refuse, caught before any network call."""


class InvalidMobileError(XunchenValidationError):
    """One or more mobile numbers are not mainland China mobile numbers.

    ``invalid`` lists every bad value, in the order given.
    """

    def __init__(self, message: str, invalid: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.invalid = list(invalid)


class InvalidContentError(XunchenValidationError):
    """The text is blank, too long, or cannot be written in the chosen encoding."""


class InvalidTemplateParamsError(XunchenValidationError):
    """Template parameters are missing, extra, or contain ``,`` or ``=``."""


class InvalidExtcodeError(XunchenValidationError):
    """The extension code is not 1 to 4 digits."""


class InvalidSendTimeError(XunchenValidationError):
    """The scheduled time is naive or not in the future."""


class InvalidKindError(XunchenValidationError):
    """The kind of message is not one of verification, notification or marketing."""


class InvalidAccountChoiceError(XunchenValidationError):
    """The account named is not configured, or may not send that kind of message, or the
    template belongs to another account."""


class LearnedBlockedWordsError(XunchenValidationError):
    """The text holds words the gateway refused before on this account (status 110,
    learned); ``words`` lists them."""

    def __init__(self, message: str, words: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.words = list(words)


class MissingOptOutFooterError(XunchenValidationError):
    """A marketing message must tell people how to refuse more (回T退订); a template
    cannot be changed, so one without such a footer is refused."""


class BalanceTooLowError(XunchenError):
    """A send above ``BALANCE_CHECK_ABOVE`` numbers would cost more than the balance left
    after what is already queued. Raised before anything is written, with or without
    ``fail_silently``. ``needed`` and ``available`` are amounts of money."""

    def __init__(self, message: str, needed: object = None, available: object = None) -> None:
        super().__init__(message)
        self.needed = needed
        self.available = available


class MonthlyCapError(XunchenError):
    """A send that would take an account's spend this calendar month (the site's time
    zone) over its ``MONTHLY_CAP``. Raised before anything is written, with or without
    ``fail_silently``. ``account``; ``cap``, ``spent`` (this month so far, the messages
    written and not suppressed, cancelled, failed or expired) and ``needed`` (the cost of
    this send) are amounts of money."""

    def __init__(
        self,
        message: str,
        account: str = "",
        cap: object = None,
        spent: object = None,
        needed: object = None,
    ) -> None:
        super().__init__(message)
        self.account = account
        self.cap = cap
        self.spent = spent
        self.needed = needed


# --------------------------------------------------------------------------- gateway codes


class GatewayError(XunchenError):
    """The gateway answered with a status code other than success.

    :ivar code: the status code as the gateway sent it (a string, e.g. ``"108"``).
    :ivar operation: ``"getAmount"``, ``"send"``, ``"queryReport"`` or ``"queryMo"``.
    :ivar vendor_message: the vendor's own (Chinese) description of the code.
    :ivar message: an English description.
    """

    default_vendor_message = ""
    default_message = ""

    def __init__(
        self,
        code: str,
        operation: str,
        vendor_message: str | None = None,
        message: str | None = None,
    ) -> None:
        self.code = code
        self.operation = operation
        self.vendor_message = vendor_message or self.default_vendor_message
        self.message = message or self.default_message
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.operation} returned status {self.code}: {self.message}"
        if self.vendor_message:
            text += f" ({self.vendor_message})"
        return text

    def __reduce__(self):  # pickling keeps the attributes (Celery, multiprocessing)
        return (
            self.__class__,
            (self.code, self.operation, self.vendor_message, self.message),
        )


class RequestFailedError(GatewayError):
    """100: the gateway could not carry out the request."""


class InvalidAccountError(GatewayError):
    """101: the account does not exist or the password is wrong."""

    default_vendor_message = "用户账号不存在或密码错误"
    default_message = "the account does not exist or the password is wrong"


class AccountDisabledError(GatewayError):
    """102: the account is disabled."""

    default_vendor_message = "账号已禁用"
    default_message = "the account is disabled"


class InvalidParametersError(GatewayError):
    """103: the gateway found a parameter missing or malformed."""

    default_vendor_message = "参数不正确"
    default_message = "a parameter is missing or malformed"


class InvalidVeryCodeError(GatewayError):
    """105 (getAmount, queryReport, queryMo) or 116 (send): wrong communication key."""

    default_vendor_message = "认证码错误"
    default_message = "the communication key (veryCode) is wrong"


class ContentRejectedError(GatewayError):
    """105 on send: the content is empty, over 300 characters, or wrongly encoded."""


class MobilesRejectedError(GatewayError):
    """106: more than 100 numbers, or an invalid number."""


class InsufficientBalanceError(GatewayError):
    """108: the account's balance cannot pay for the message."""


class IPNotAllowedError(GatewayError):
    """109: the account only accepts requests from another IP address."""


class BlockedWordsError(GatewayError):
    """110: the content contains words the gateway refuses; ``words`` lists them."""

    def __init__(
        self,
        code: str,
        operation: str,
        vendor_message: str | None = None,
        message: str | None = None,
        words: Iterable[str] = (),
    ) -> None:
        self.words = list(words)
        super().__init__(code, operation, vendor_message, message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.words:
            text += ": " + ", ".join(self.words)
        return text

    def __reduce__(self):
        return (
            self.__class__,
            (self.code, self.operation, self.vendor_message, self.message, self.words),
        )


class TemplateNotFoundError(GatewayError):
    """114: no template with that id is registered for the account."""


class SignatureNotFoundError(GatewayError):
    """115: the account has no signature with that index."""


class AccessMethodNotEnabledError(GatewayError):
    """117: HTTP access is not enabled for the account."""


class UnknownStatusError(GatewayError):
    """A status code the specification does not list for this operation.

    Never treated as success: the code is kept so that it can be looked up with the vendor.
    """

    default_vendor_message = ""
    default_message = "a status code the specification does not list"


# (operation, code) -> (class, vendor's text, English text).
_QUERY_FAILED = {
    BALANCE: ("查询余额失败", "the balance query failed"),
    REPORTS: ("获取状态报告失败", "fetching delivery reports failed"),
    INBOUND: ("获取上行短信失败", "fetching replies failed"),
}
_COMMON = {
    "101": (
        InvalidAccountError,
        "用户账号不存在或密码错误",
        "the account does not exist or the password is wrong",
    ),
    "102": (AccountDisabledError, "账号已禁用", "the account is disabled"),
    "103": (InvalidParametersError, "参数不正确", "a parameter is missing or malformed"),
    "117": (
        AccessMethodNotEnabledError,
        "未开通此接入方式",
        "HTTP access is not enabled for this account",
    ),
}
STATUS_CODES: dict[str, dict[str, tuple[type[GatewayError], str, str]]] = {
    op: {
        "100": (RequestFailedError, *_QUERY_FAILED[op]),
        **_COMMON,
        "105": (InvalidVeryCodeError, "认证码错误", "the communication key (veryCode) is wrong"),
    }
    for op in (BALANCE, REPORTS, INBOUND)
}
STATUS_CODES[SEND] = {
    "100": (RequestFailedError, "发送失败", "sending failed"),
    **_COMMON,
    "105": (
        ContentRejectedError,
        "短信内容超过300字或为空、或内容编码格式不正确",
        "the content is over 300 characters, empty, or in the wrong encoding",
    ),
    "106": (
        MobilesRejectedError,
        "手机号码超过100个或有错误号码",
        "more than 100 numbers, or an invalid number",
    ),
    "108": (InsufficientBalanceError, "余额不足", "insufficient balance"),
    "109": (IPNotAllowedError, "ip错误", "requests from this IP address are not allowed"),
    "110": (BlockedWordsError, "短信内容存在系统保留关键词", "the content contains blocked words"),
    "114": (TemplateNotFoundError, "模板短信序号不存在", "the template does not exist"),
    "115": (SignatureNotFoundError, "短信签名标签序号不存在", "the signature index does not exist"),
    "116": (InvalidVeryCodeError, "认证码不正确", "the communication key (veryCode) is wrong"),
    "117": _COMMON["117"],
}
#: What queryReport and queryMo answer when there is nothing to fetch: not an error.
NOTHING_TO_FETCH = "104"

_BLOCKED_WORDS = re.compile(r"^110\s*#\s*[(（](?P<words>.*)[)）]\s*$", re.DOTALL)


def gateway_error(operation: str, status: str) -> GatewayError:
    """The exception for a non-success ``status`` of ``operation``, as the gateway sent it."""
    status = status.strip()
    code, words = status, []
    match = _BLOCKED_WORDS.match(status)
    if match:
        code = "110"
        words = [w.strip() for w in re.split(r"[,，]", match.group("words")) if w.strip()]
    elif status.startswith("110#") or status == "110":
        code = "110"
    entry = STATUS_CODES.get(operation, {}).get(code)
    if entry is None:
        shown = status or "(empty)"
        return UnknownStatusError(shown, operation, message=f"unknown status code {shown}")
    cls, vendor_message, message = entry
    if cls is BlockedWordsError:
        return BlockedWordsError(code, operation, vendor_message, message, words=words)
    return cls(code, operation, vendor_message, message)


# --------------------------------------------------------------------------- transport


class TransportError(XunchenError):
    """No usable answer came back from the gateway."""


class NotSentError(TransportError):
    """The request certainly did not reach the gateway: connection refused, DNS, connect
    timeout. Safe to retry."""


class OutcomeUnknownError(TransportError):
    """The request went out but no usable answer came back (read timeout, dropped
    connection, HTTP error, unparseable body). A send may or may not have been accepted;
    a query may have consumed records. Never retry a send automatically."""


class ResponseCutOffError(OutcomeUnknownError):
    """The answer stopped part-way: the connection broke, the whole-request deadline
    passed, or the body passed its size limit.

    ``received`` holds every byte that did arrive. For a report or reply query those bytes
    may hold complete records that the gateway will not return again, so the poller
    journals them and recovers the records before the cut.
    """

    def __init__(self, message: str, received: bytes = b"") -> None:
        super().__init__(message)
        self.received = bytes(received)

    def __reduce__(self):
        return (self.__class__, (str(self), self.received))


class MalformedResponseError(OutcomeUnknownError):
    """The gateway answered with an HTTP error or with something that is not the protocol.

    ``body`` holds the first bytes of what came back, for diagnosis.
    """

    def __init__(self, message: str, body: bytes = b"") -> None:
        super().__init__(message)
        self.body = body[:2048]


class UnsafeXMLError(MalformedResponseError):
    """The response declares a DOCTYPE or entities; it is refused unparsed."""
