"""XML in the shapes of the vendor's samples, quirks included."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol
from xml.sax.saxutils import escape

# The balance sample's declaration has literal backslashes; the error samples a space
# before "?>" and a trailing blank. Clients must cope with both.
ESCAPED_DECLARATION = '<?xml version=\\"1.0\\" encoding=\\"UTF-8\\"?>'
SPACED_DECLARATION = '<?xml version="1.0" encoding="utf-8" ?> '
PLAIN_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


class _Report(Protocol):
    mobile: str
    msgid: str
    status: str
    time: str
    extno: str


class _Reply(Protocol):
    mobile: str
    recvcode: str
    content: str
    time: str


def encode(text: str, encoding: str = "utf-8") -> bytes:
    """The body as bytes. With ``gbk`` the declaration still says UTF-8, as some real
    servers do."""
    return text.encode(encoding)


def balance_text(amount: Decimal) -> str:
    shown = format(amount.normalize(), "f") if amount == amount.to_integral() else str(amount)
    return (
        f"{ESCAPED_DECLARATION}\n\n<sms>\n\n<mt>\n\n<status>0</status>\n\n"
        f"<account>{shown}</account>\n\n</mt>\n\n</sms>\n"
    )


def status_text(code: str, *, error_shape: bool = False) -> str:
    declaration = SPACED_DECLARATION if error_shape else PLAIN_DECLARATION
    return f"{declaration}\n\n<sms>\n\n<mt>\n\n<status>{escape(code)}</status>\n\n</mt>\n\n</sms>\n"


def status(code: str) -> bytes:
    return status_text(code).encode()


def sent_text(msgid: str) -> str:
    return (
        f"{PLAIN_DECLARATION}\n\n<sms>\n\n\n<mt>\n\n\n\n<status>0</status>   \n\n\n"
        f"<msgid>{escape(msgid)}</msgid>  <!--消息id-->\n\n\n</mt>\n\n</sms>\n"
    )


def reports_text(records: Iterable[_Report]) -> str:
    parts = [f"{PLAIN_DECLARATION}\n\n<sms>\n"]
    for index, r in enumerate(records):
        if index == 0:
            parts.append(
                f"\n<rpt>\n\n\n\n<mobile>{escape(r.mobile)}</mobile>\n\n\n<!--手机号码-->\n\n\n"
                f"<msgid>{escape(r.msgid)}</msgid>\n<!---消息ID ,对应发送的消息id-->\n\n\n"
                f"<status>{escape(r.status)}</status>\n\n\n\n"
                "<!--状态报告，DELIVRD-成功，其他-失败-->\n\n\n"
                f"<time>{escape(r.time)}</time>\n\n<!--报告时间-->\n\n\n"
                f"<extno>{escape(r.extno)}</extno>\n\n\n\n\n\n<!--扩展码-->\n\n</rpt>\n"
            )
        else:
            parts.append(
                f"\n\n<rpt>\n\n\n\n<mobile>{escape(r.mobile)}</mobile>\n\n\n\n"
                f"<msgid>{escape(r.msgid)}</msgid>\n\n\n\n<status>{escape(r.status)}</status>"
                f"\n\n\n\n<time>{escape(r.time)}</time>\n\n\n\n<extno>{escape(r.extno)}</extno>"
                "\n\n</rpt>\n"
            )
    parts.append("\n</sms>\n")
    return "".join(parts)


def replies_text(records: Iterable[_Reply]) -> str:
    parts = [f"{SPACED_DECLARATION}\n\n<sms>\n"]
    for r in records:
        parts.append(
            f"\n<mo>\n\n<mobile>{escape(r.mobile)}</mobile>\n\n\n\n<!--手机号码-->\n"
            f"<recvcode>{escape(r.recvcode)}</recvcode>\n\n<!--接受号码-->\n"
            f"<content>{escape(r.content)}</content><!--回复内容-->\n"
            f"<time>{escape(r.time)}</time>\n\n\n <!--接收时间-->\n\n</mo>\n"
        )
    parts.append("\n</sms>\n")
    return "".join(parts)
