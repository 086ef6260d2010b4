"""What a failure's code means, for the analytics page.

Two kinds of code reach it: the operator's status in an undelivered message's report
(the SMPP/CMPP message states are standard; the carriers' own codes such as ``MA:0006``
or ``MK:0001`` differ by carrier and channel, and no public table of them is reliable),
and the gateway's status code of a failed send (its specification lists them). Codes not
in the table are shown raw; a site adds the meanings its vendor gave it with
``XUNCHEN["FAILURE_CODES"]`` (code → text).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..conf import xunchen_settings

#: Report states of SMPP and CMPP, as the gateway passes them on.
REPORT_STATES = {
    "DELIVRD": _("delivered"),
    "UNDELIV": _("undeliverable: the handset or the number cannot receive it"),
    "EXPIRED": _("expired: the handset stayed unreachable (off, out of coverage) too long"),
    "DELETED": _("deleted by the operator before delivery"),
    "REJECTD": _("rejected by the operator"),
    "UNKNOWN": _("unknown state at the operator"),
    "ACCEPTD": _("accepted, not yet delivered"),
}
#: The gateway's status codes of a send (its specification, "sendUtf8Msg").
SEND_CODES = {
    "100": _("sending failed"),
    "101": _("the account does not exist or the password is wrong"),
    "102": _("the account is disabled"),
    "103": _("a parameter is missing or malformed"),
    "105": _("the content is over 300 characters, empty, or in the wrong encoding"),
    "106": _("more than 100 numbers, or an invalid number"),
    "108": _("insufficient balance"),
    "109": _("requests from this IP address are not allowed"),
    "110": _("the content contains blocked words"),
    "114": _("the template does not exist"),
    "115": _("the signature index does not exist"),
    "116": _("the communication key (veryCode) is wrong"),
    "117": _("HTTP access is not enabled for this account"),
}


def meaning(code: str, status: str) -> str:
    """What ``code`` of a message in ``status`` (undelivered: a report's; failed: the
    gateway's) means, or "" when nobody told us."""
    own = xunchen_settings()["FAILURE_CODES"] or {}
    if code in own:
        return str(own[code])
    if status == "failed":
        base = code.split("#", 1)[0].strip()
        return str(SEND_CODES.get(base, ""))
    return str(REPORT_STATES.get(code, ""))
