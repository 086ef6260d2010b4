"""Turning the gateway's XML into values, tolerant of its quirks and closed to XML attacks.

The quirks come from the vendor's own samples: a declaration with literal backslashes
(``<?xml version=\\"1.0\\" ...?>``), blank lines before and after it, comments inside
records (some malformed), empty elements, stray spaces, and bodies in GBK under a UTF-8
declaration. DOCTYPEs and entity declarations are refused before lxml sees the text, and
the parser itself resolves nothing, reads nothing from the network and builds no huge tree.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar, cast

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

#: The longest msgid a Message can store; a longer one cannot be matched to reports.
MAX_MSGID_LENGTH = 64

_LEADING_COMMENTS = re.compile(rb"^\s*(?:<!--.*?-->\s*)*", re.DOTALL)
_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.IGNORECASE)
_TEXT_DECLARATION = re.compile(r"<\?xml[^>]*?\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*\\?["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_UNSAFE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DELIVERED = "DELIVRD"


#: Both parsers resolve no entity, read nothing from the network, load no DTD, build no
#: huge tree, keep no comment or processing instruction and never guess at broken XML.
PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
    "recover": False,
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(**PARSER_OPTIONS)  # type: ignore[arg-type]


def _pull_parser() -> etree.XMLPullParser:
    return etree.XMLPullParser(events=("start", "end"), **PARSER_OPTIONS)  # type: ignore[arg-type]


def decode_body(body: bytes) -> str:
    """The body as text: the declared encoding (UTF-8 by default), then GB18030 if the
    bytes do not fit it, since some servers send GBK under a UTF-8 declaration."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    body = body[_LEADING_COMMENTS.match(body).end() :]  # type: ignore[union-attr]
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
            # final=False: a body cut inside a character keeps everything before it.
            return codecs.getincrementaldecoder(encoding)().decode(body, final=False)
        except (UnicodeDecodeError, LookupError):
            continue
    raise MalformedResponseError("the response is neither UTF-8 nor GBK text", body)


def parse_xml(body: bytes) -> etree._Element:
    """The ``<sms>`` root element of a response body."""
    if not body or not body.strip():
        raise MalformedResponseError("the response body is empty", body)
    if len(body) > MAX_QUERY_BODY_BYTES:
        raise MalformedResponseError(f"the response is over {MAX_QUERY_BODY_BYTES} bytes", body)
    text = _prepare(body)
    try:
        root = etree.fromstring(text, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedResponseError(f"the response is not well-formed XML: {exc}", body) from None
    if root is None or root.tag != "sms":
        tag = getattr(root, "tag", None)
        raise MalformedResponseError(f"expected an <sms> root element, found <{tag}>", body)
    return root


def _prepare(body: bytes) -> str:
    """The body as text ready for lxml: decoded, comments and declarations removed,
    DOCTYPEs and entity declarations refused."""
    text = _COMMENT.sub("", decode_body(body))
    text = _TEXT_DECLARATION.sub("", text).strip()
    if _UNSAFE.search(text):
        raise UnsafeXMLError("the response declares a DOCTYPE or entities; refused", body)
    return text


_USUAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.ASCII)


def _fields(element: etree._Element) -> dict[str, str]:
    """The text of each child of a record, stripped; the first of a repeated one."""
    found: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if isinstance(tag, str) and tag not in found:
            found[tag] = (child.text or "").strip()
    return found


def _text(element: etree._Element, tag: str) -> str:
    child = element.find(tag)
    if child is None or child.text is None:
        return ""
    return child.text.strip()


def parse_time(value: str) -> dt.datetime | None:
    """``2015-06-08 11:21:46`` (China Standard Time) as an aware datetime; ``None`` when
    empty or not a time, so that one odd field never loses the whole record."""
    value = value.strip()
    if _USUAL_TIME.fullmatch(value):  # the form every answer uses, read without strptime
        try:
            return dt.datetime(
                int(value[0:4]),
                int(value[5:7]),
                int(value[8:10]),
                int(value[11:13]),
                int(value[14:16]),
                int(value[17:19]),
                tzinfo=CHINA_TZ,
            )
        except ValueError:
            return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S", "%Y/%m/%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=CHINA_TZ)
        except ValueError:
            continue
    return None


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
    if len(msgid) > MAX_MSGID_LENGTH:
        raise MalformedResponseError(
            f"send: status 0 but the msgid is {len(msgid)} characters long, over "
            f"{MAX_MSGID_LENGTH}; it cannot be matched to reports: {msgid}",
            body,
        )
    return SendResult(msgid=msgid, mobiles=mobiles)


R = TypeVar("R")


@dataclass
class RecordScan(Generic[R]):
    """What a record-by-record read of a query body found.

    ``records`` are the complete records, in order. ``complete`` is False when the body
    stopped or broke part-way: ``records`` then holds every record before that point, and
    ``error`` says where it stopped.
    """

    records: list[R] = field(default_factory=list)
    complete: bool = True
    error: str = ""


def _scan(
    body: bytes, operation: str, tag: str, convert: Callable[[etree._Element], R]
) -> RecordScan[R]:
    """Read ``<tag>`` records one at a time with lxml's pull parser.

    A record is taken when its end tag has been read, so a body cut off part-way gives
    every record before the cut (see :func:`_whole_records` for how the cut is found). A
    gateway status other than 0 or 104 raises its :class:`GatewayError`; a body that is
    not the protocol at all (empty, undecodable, a DOCTYPE, another root element) raises
    :class:`MalformedResponseError`.
    """
    if not body or not body.strip():
        raise MalformedResponseError("the response body is empty", body)
    text = _prepare(body)
    scan: RecordScan[R] = RecordScan()
    try:
        status = _stream(text, operation, tag, convert, scan.records, body)
    except _Broken as broken:
        scan.complete = False
        status = broken.status
        scan.records, dropped = _whole_records(
            text, operation, tag, convert, len(scan.records), body
        )
        scan.error = (
            f"the XML stops or breaks after {len(scan.records)} complete records: {broken.error}"
        )
        if dropped:
            scan.error += f"; {dropped} records before the break lacked a required field"
    if status == NOTHING_TO_FETCH:
        scan.records.clear()
    return scan


class _Broken(Exception):
    """The XML broke off or went wrong; ``status`` is what ``<mt>`` said before it."""

    def __init__(self, error: str, status: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


def _stream(
    text: str,
    operation: str,
    tag: str,
    convert: Callable[[etree._Element], R],
    records: list[R],
    body: bytes,
) -> str | None:
    """Append each ``<tag>`` record of ``text`` to ``records``; the ``<mt>`` status.

    Raises :class:`_Broken` when the XML is not well-formed. The records appended by then
    are not to be trusted: lxml 6 closes the elements still open at the break and reports
    them as ended, so the last one may be a record cut half-way.
    """
    parser = _pull_parser()
    state: dict[str, object] = {"root": None, "status": None, "broken": False}

    def drain() -> None:
        for event, item in parser.read_events():
            element = cast(etree._Element, item)
            if state["root"] is None:
                if element.tag != "sms":
                    raise MalformedResponseError(
                        f"expected an <sms> root element, found <{element.tag}>", body
                    )
                state["root"] = element
                continue
            if event != "end":
                continue
            if element.tag == "mt":
                if state["broken"]:
                    continue  # closed by lxml 6 at the break: its status may be cut short
                state["status"] = _text(element, "status")
                _check_query_status(str(state["status"]), operation)
            elif element.tag == tag:
                records.append(convert(element))
                element.clear()
                parent = element.getparent()
                while parent is not None and element.getprevious() is not None:
                    del parent[0]

    try:
        for start in range(0, len(text), 65536):
            parser.feed(text[start : start + 65536])
            drain()
        parser.close()
        drain()
    except etree.XMLSyntaxError as exc:
        state["broken"] = True
        _drain_quietly(drain)
        if state["root"] is None:
            raise MalformedResponseError(f"the response is not XML: {exc}", body) from None
        raise _Broken(str(exc), cast("str | None", state["status"])) from None
    return cast("str | None", state["status"])


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def _whole_records(
    text: str,
    operation: str,
    tag: str,
    convert: Callable[[etree._Element], R],
    streamed: int,
    body: bytes,
) -> tuple[list[R], int]:
    """The records of a broken body whose end tag the gateway really sent, and how many
    of them were dropped for a missing or ill-formed required field.

    The body is read again up to the end tag of a record, closed with ``</sms>``: if that
    is a well-formed document, every record in it is whole, whatever the parser version
    does at a break. The stream found ``streamed`` records; lxml 5 stops before the one at
    the break and lxml 6 includes it, so the cut is at one of the last few end tags. A body
    broken so that none of them gives a whole document yields nothing here; the raw answer
    stays in the poll journal either way.
    """
    plain = _CDATA.sub(_blank, text)
    ends = [match.end() for match in re.finditer(rf"</{tag}\s*>", plain)]
    highest = min(streamed, len(ends))
    for count in range(highest, max(highest - _CUT_TRIES, 0), -1):
        records: list[R] = []
        try:
            _stream(text[: ends[count - 1]] + "</sms>", operation, tag, convert, records, body)
        except (_Broken, MalformedResponseError):
            continue
        if len(records) == count:
            kept = [record for record in records if _has_required_fields(record)]
            return kept, len(records) - len(kept)
    return [], 0


#: How many end tags before the streamed count are tried as the point of the break.
_CUT_TRIES = 3
_CDATA = re.compile(r"<!\[CDATA\[.*?\]\]>", re.DOTALL)


def _has_required_fields(record: object) -> bool:
    """Whether a record carries what the protocol says every one of its kind has."""
    if isinstance(record, DeliveryReport):
        return (
            normalize_mobile(record.mobile) is not None
            and bool(record.msgid)
            and len(record.msgid) <= MAX_MSGID_LENGTH
            and bool(record.status)
            and record.reported_at is not None
        )
    if isinstance(record, InboundSMS):
        return normalize_mobile(record.mobile) is not None and record.received_at is not None
    return True


def _drain_quietly(drain: Callable[[], None]) -> None:
    """Take the events lxml produced before a syntax error, if it kept any."""
    with contextlib.suppress(etree.XMLSyntaxError):
        drain()


def _check_query_status(status: str, operation: str) -> None:
    if status not in ("0", NOTHING_TO_FETCH):
        raise gateway_error(operation, status)


def _report(rpt: etree._Element) -> DeliveryReport:
    fields = _fields(rpt)
    raw_mobile = fields.get("mobile", "")
    status = fields.get("status", "")
    return DeliveryReport(
        mobile=normalize_mobile(raw_mobile) or raw_mobile,
        msgid=fields.get("msgid", ""),
        status=status,
        delivered=status.upper() == _DELIVERED,
        reported_at=parse_time(fields.get("time", "")),
        extno=fields.get("extno", ""),
    )


def _reply(mo: etree._Element) -> InboundSMS:
    raw_mobile = _text(mo, "mobile")
    content_el = mo.find("content")
    content = "" if content_el is None or content_el.text is None else content_el.text
    return InboundSMS(
        mobile=normalize_mobile(raw_mobile) or raw_mobile,
        recvcode=_text(mo, "recvcode"),
        content=content.strip(),
        received_at=parse_time(_text(mo, "time")),
    )


def scan_reports(body: bytes) -> RecordScan[DeliveryReport]:
    """Every complete ``<rpt>`` of a queryReport body, even one cut off part-way."""
    return _scan(body, REPORTS, "rpt", _report)


def scan_inbound(body: bytes) -> RecordScan[InboundSMS]:
    """Every complete ``<mo>`` of a queryMo body, even one cut off part-way."""
    return _scan(body, INBOUND, "mo", _reply)


def _complete(scan: RecordScan[R], body: bytes) -> list[R]:
    if not scan.complete:
        raise MalformedResponseError(f"the response is not well-formed XML: {scan.error}", body)
    return scan.records


def parse_reports(body: bytes) -> list[DeliveryReport]:
    """Every ``<rpt>`` of a queryReport response; 104 ("none right now") gives ``[]``."""
    return _complete(scan_reports(body), body)


def parse_inbound(body: bytes) -> list[InboundSMS]:
    """Every ``<mo>`` of a queryMo response; 104 ("none right now") gives ``[]``."""
    return _complete(scan_inbound(body), body)
