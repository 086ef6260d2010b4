"""Turning the gateway's XML into values, tolerant of its quirks and closed to XML attacks.

The quirks come from the vendor's own samples: a declaration with literal backslashes
(``<?xml version=\\"1.0\\" ...?>``), blank lines before and after it, comments inside
records (some malformed), empty elements, stray spaces, and bodies in GBK under a UTF-8
declaration. DOCTYPEs and entity declarations are refused before lxml sees the text, and
the parser itself resolves nothing, reads nothing from the network and builds no huge tree.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from ..exceptions import (
    BALANCE,
    INBOUND,
    NOTHING_TO_FETCH,
    REPORTS,
    SEND,
    MalformedResponseError,
    UnsafeXMLError,
    gateway_error,
)
from .types import CHINA_TZ, Balance, DeliveryReport, InboundSMS, SendResult
from .validation import normalize_mobile

#: Bodies larger than this are refused, to bound memory. For queryReport and queryMo the
#: records in a refused body are lost (the gateway has handed them over), so the limit is
#: far above anything real: at a 3-minute poll it is over a million reports per fetch.
MAX_QUERY_BODY_BYTES = 256 * 1024 * 1024
#: Balance and send answers are a few hundred bytes.
MAX_ANSWER_BODY_BYTES = 1024 * 1024

_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*\\?["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_UNSAFE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DELIVERED = "DELIVRD"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )


def decode_body(body: bytes) -> str:
    """The body as text: the declared encoding (UTF-8 by default), then GB18030 if the
    bytes do not fit it, since some servers send GBK under a UTF-8 declaration."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    declaration = _DECLARATION.match(body)
    declared = "utf-8"
    if declaration:
        found = _DECLARED_ENCODING.search(declaration.group(0))
        if found:
            declared = found.group(1).decode("ascii").lower()
        body = body[declaration.end() :]
    candidates = [declared, "utf-8", "gb18030"]
    for encoding in dict.fromkeys(candidates):
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise MalformedResponseError("the response is neither UTF-8 nor GBK text", body)


def parse_xml(body: bytes) -> etree._Element:
    """The ``<sms>`` root element of a response body."""
    if not body or not body.strip():
        raise MalformedResponseError("the response body is empty", body)
    if len(body) > MAX_QUERY_BODY_BYTES:
        raise MalformedResponseError(f"the response is over {MAX_QUERY_BODY_BYTES} bytes", body)
    text = _COMMENT.sub("", decode_body(body)).strip()
    if _UNSAFE.search(text):
        raise UnsafeXMLError("the response declares a DOCTYPE or entities; refused", body)
    try:
        root = etree.fromstring(text, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedResponseError(f"the response is not well-formed XML: {exc}", body) from None
    if root is None or root.tag != "sms":
        tag = getattr(root, "tag", None)
        raise MalformedResponseError(f"expected an <sms> root element, found <{tag}>", body)
    return root


def _text(element: etree._Element, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None:
        return ""
    return child.text.strip()


def parse_time(value: str) -> dt.datetime | None:
    """``2015-06-08 11:21:46`` (China Standard Time) as an aware datetime; ``None`` when
    empty or not a time, so that one odd field never loses the whole record."""
    value = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y/%m/%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=CHINA_TZ)
        except ValueError:
            continue
    return None


def _status(root: etree._Element) -> str | None:
    """The ``<mt><status>`` of a response, or ``None`` when it has no ``<mt>``."""
    mt = root.find("mt")
    if mt is None:
        return None
    return _text(mt, "status")


def _require_status(root: etree._Element, operation: str, body: bytes) -> etree._Element:
    mt = root.find("mt")
    if mt is None:
        raise MalformedResponseError(f"{operation}: the response has no <mt> element", body)
    status = _text(mt, "status")
    if status != "0":
        raise gateway_error(operation, status)
    return mt


def parse_balance(body: bytes) -> Balance:
    root = parse_xml(body)
    mt = _require_status(root, BALANCE, body)
    raw = _text(mt, "account")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise MalformedResponseError(
            f"getAmount: the balance {raw!r} is not a number", body
        ) from None
    if not amount.is_finite():
        raise MalformedResponseError(f"getAmount: the balance {raw!r} is not a number", body)
    return Balance(amount=amount, messages=int(amount * 10))


def parse_send(body: bytes, mobiles: tuple[str, ...] = ()) -> SendResult:
    root = parse_xml(body)
    mt = _require_status(root, SEND, body)
    msgid = _text(mt, "msgid")
    if not msgid:
        raise MalformedResponseError("send: status 0 but no msgid", body)
    return SendResult(msgid=msgid, mobiles=mobiles)


def _records(root: etree._Element, operation: str, tag: str) -> list[etree._Element]:
    status = _status(root)
    if status is not None and status != "0":
        if status == NOTHING_TO_FETCH:
            return []
        raise gateway_error(operation, status)
    return list(root.iter(tag))


def parse_reports(body: bytes) -> list[DeliveryReport]:
    """Every ``<rpt>`` of a queryReport response; 104 ("none right now") gives ``[]``."""
    root = parse_xml(body)
    reports = []
    for rpt in _records(root, REPORTS, "rpt"):
        raw_mobile = _text(rpt, "mobile")
        status = _text(rpt, "status")
        reports.append(
            DeliveryReport(
                mobile=normalize_mobile(raw_mobile) or raw_mobile,
                msgid=_text(rpt, "msgid"),
                status=status,
                delivered=status.upper() == _DELIVERED,
                reported_at=parse_time(_text(rpt, "time")),
                extno=_text(rpt, "extno"),
            )
        )
    return reports


def parse_inbound(body: bytes) -> list[InboundSMS]:
    """Every ``<mo>`` of a queryMo response; 104 ("none right now") gives ``[]``."""
    root = parse_xml(body)
    replies = []
    for mo in _records(root, INBOUND, "mo"):
        raw_mobile = _text(mo, "mobile")
        content_el = mo.find("content")
        content = "" if content_el is None or content_el.text is None else content_el.text
        replies.append(
            InboundSMS(
                mobile=normalize_mobile(raw_mobile) or raw_mobile,
                recvcode=_text(mo, "recvcode"),
                content=content.strip(),
                received_at=parse_time(_text(mo, "time")),
            )
        )
    return replies
