"""Reply keywords: a reply such as 退订 or TD opts a number out, and 订阅 back in."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ..conf import xunchen_settings
from ..consent import ledger as consent_ledger
from ..exceptions import XunchenValidationError
from ..models import Consent, InboundMessage, Suppression
from .suppression import reply_time, suppress, unsuppress

_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def normalize_reply(text: str) -> str:
    """NFKC, case folded, without surrounding whitespace and punctuation: ``ＴＤ！`` →
    ``td``."""
    return _EDGES.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def _starts_with(reply: str, keyword: str) -> bool:
    """The whole reply, or its start when the keyword ends there: ``退订谢谢`` and
    ``td 谢谢`` count, ``thanks`` is not ``t``."""
    if reply == keyword:
        return True
    if not reply.startswith(keyword):
        return False
    following = reply[len(keyword)]
    return not (following.isascii() and following.isalnum())


def reply_intent(text: str) -> str | None:
    """``"out"`` for an opt-out reply, ``"in"`` for an opt-in reply, else ``None``."""
    conf = xunchen_settings()
    reply = normalize_reply(text)
    if not reply:
        return None
    for intent, keywords in (("in", conf["OPT_IN_KEYWORDS"]), ("out", conf["OPT_OUT_KEYWORDS"])):
        for keyword in keywords:
            if _starts_with(reply, normalize_reply(keyword)):
                return intent
    return None


def apply_reply_keywords(replies: Sequence[InboundMessage]) -> None:
    """Inside the ingest transaction: 退订 and the other keywords put the number on the
    list for marketing (and withdraw consent, :func:`.suppression.suppress`); 订阅 takes
    it off and is a grant of marketing consent, the reply its evidence. A crash cannot
    lose an opt-out: it commits with the reply."""
    for reply in replies:
        intent = reply_intent(reply.content)
        if intent is None or not reply.mobile.isdigit() or len(reply.mobile) != 11:
            continue
        try:
            if intent == "out":
                suppress(
                    reply.mobile,
                    source=Suppression.Source.REPLY,
                    cause=reply.content[:200],
                    reply=reply,
                )
            else:
                unsuppress(reply.mobile, reply=reply)
                consent_ledger.record(
                    reply.mobile,
                    True,
                    source=Consent.Source.REPLY,
                    at=reply_time(reply),
                    evidence=consent_ledger.Evidence(reply=reply, note=reply.content),
                )
        except XunchenValidationError:
            continue
