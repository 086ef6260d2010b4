"""Sending policy: who may not get what (suppression), marketing rules (opt-out footer,
quiet hours, a daily cap), words the gateway refuses, and what a send costs.

Suppression is checked when rows are created and again when they are submitted, so that
an opt-out that arrives while a message waits (quiet hours, a retry) still stops it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from .client.types import CHINA_TZ
from .client.validation import validate_mobiles
from .conf import xunchen_settings
from .db import one_of
from .exceptions import (
    MissingOptOutFooterError,
    XunchenValidationError,
)
from .models import BlockedWord, InboundMessage, Message, Report, Suppression, Template
from .signals import opted_in, opted_out, send_on_commit

logger = logging.getLogger("django_xunchen.policy")
Kind = Message.Kind
#: Text that already tells people how to refuse more messages.
FOOTER = re.compile(r"退订|拒收|回\s*[TtRrNn]\b|STOP", re.IGNORECASE)
_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$")


# --------------------------------------------------------------------------- suppression


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


def suppressed(mobiles: Iterable[str], kind: str) -> dict[str, Suppression]:
    """The numbers among ``mobiles`` that may not get a message of ``kind`` (one query;
    none for verification codes)."""
    if kind == Kind.VERIFICATION:
        return {}
    numbers = set(mobiles)
    if not numbers:
        return {}
    scopes = [Suppression.Scope.ALL]
    if kind == Kind.MARKETING:
        scopes.append(Suppression.Scope.MARKETING)
    found = Suppression.objects.filter(one_of(Suppression, "mobile", numbers), scope__in=scopes)
    return {s.mobile: s for s in found}


def suppressed_filter(kind: str) -> Exists | None:
    """A filter for messages of ``kind`` whose number is on the list (``None`` for
    verification codes, which are never suppressed)."""
    if kind == Kind.VERIFICATION:
        return None
    scopes = [Suppression.Scope.ALL]
    if kind == Kind.MARKETING:
        scopes.append(Suppression.Scope.MARKETING)
    return Exists(Suppression.objects.filter(mobile=OuterRef("mobile"), scope__in=scopes))


def suppress(
    mobile: str,
    *,
    source: str,
    scope: str = Suppression.Scope.MARKETING,
    cause: str = "",
    reply: InboundMessage | None = None,
) -> Suppression:
    """Put ``mobile`` on the suppression list (widening the scope of an existing entry,
    never narrowing it) and send ``opted_out`` after the commit."""
    (number,) = validate_mobiles(mobile)
    with transaction.atomic():
        entry, created = Suppression.objects.select_for_update().get_or_create(
            mobile=number,
            defaults={"scope": scope, "source": source, "cause": cause[:200], "reply": reply},
        )
        if not created and scope == Suppression.Scope.ALL and entry.scope != scope:
            entry.scope, entry.source, entry.cause = scope, source, cause[:200]
            entry.save(update_fields=["scope", "source", "cause"])
        if created or entry.scope == scope:
            send_on_commit(
                [(opted_out, Suppression, {"mobile": number, "suppression": entry, "reply": reply})]
            )
    return entry


def unsuppress(mobile: str, *, reply: InboundMessage | None = None) -> bool:
    """Take ``mobile`` off the list; ``opted_in`` is sent after the commit. True if it was
    on it."""
    (number,) = validate_mobiles(mobile)
    deleted, _ = Suppression.objects.filter(mobile=number).delete()
    if deleted:
        send_on_commit([(opted_in, Suppression, {"mobile": number, "reply": reply})])
    return bool(deleted)


def apply_reply_keywords(replies: Sequence[InboundMessage]) -> None:
    """Inside the ingest transaction: 退订 and the other keywords put the number on the
    list for marketing; 订阅 takes it off. A crash cannot lose an opt-out: it commits
    with the reply."""
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
        except XunchenValidationError:
            continue


def apply_bounces(mobiles: Iterable[str]) -> None:
    """Suppress numbers whose last ``BOUNCE_THRESHOLD`` reports were all undelivered with
    one and the same status (inside the ingest transaction)."""
    conf = xunchen_settings()
    threshold = int(conf["BOUNCE_THRESHOLD"] or 0)
    numbers = sorted(set(mobiles))
    if threshold < 1 or not numbers:
        return
    recent: dict[str, list[tuple[bool, str]]] = {}
    rows = (
        Report.objects.filter(mobile__in=numbers)
        .order_by("mobile", "-id")
        .values_list("mobile", "delivered", "status")
    )
    for mobile, delivered, status in rows.iterator():
        if len(recent.setdefault(mobile, [])) < threshold:
            recent[mobile].append((delivered, status))
    already = set(Suppression.objects.filter(mobile__in=numbers).values_list("mobile", flat=True))
    for mobile, last in recent.items():
        statuses = {status for delivered, status in last if not delivered}
        bounced = len(last) == threshold and not any(d for d, _ in last) and len(statuses) == 1
        if bounced and mobile not in already and len(mobile) == 11:
            cause = f"{threshold} reports in a row: {statuses.pop()}"
            suppress(
                mobile, source=Suppression.Source.BOUNCE, scope=conf["BOUNCE_SCOPE"], cause=cause
            )


# --------------------------------------------------------------------------- marketing rules


def with_footer(text: str, account: str) -> str:
    """``text`` with the account's opt-out footer appended, unless it has one."""
    footer = xunchen_settings(account)["MARKETING_FOOTER"]
    if not footer or FOOTER.search(text):
        return text
    return text + footer


def check_template_footer(template: Template) -> None:
    if not FOOTER.search(template.body):
        raise MissingOptOutFooterError(
            f"template {template.template_id} has no opt-out footer (such as 回T退订); a "
            "marketing template must have one, and a registered template cannot be changed"
        )


def _clock(value: str) -> dt.time:
    hours, minutes = value.split(":")
    return dt.time(int(hours), int(minutes))


def quiet_until(at: dt.datetime, account: str) -> dt.datetime | None:
    """When the account's quiet hours that ``at`` falls in end, or ``None`` if it falls
    outside them. Quiet hours are China Standard Time and may span midnight."""
    window = xunchen_settings(account)["QUIET_HOURS"]
    if not window:
        return None
    start, end = (_clock(v) for v in window)
    local = at.astimezone(CHINA_TZ)
    now = local.time()
    if start <= end:
        inside = start <= now < end
        end_day = local.date()
    else:
        inside = now >= start or now < end
        end_day = local.date() + dt.timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    return dt.datetime.combine(end_day, end, tzinfo=CHINA_TZ)


def daily_cap(account: str) -> int | None:
    """``MARKETING_DAILY_CAP`` of the account: marketing messages a number may get in a
    day (China Standard Time); ``None``: no cap. :mod:`.admission` applies it."""
    return xunchen_settings(account)["MARKETING_DAILY_CAP"]


# --------------------------------------------------------------------------- blocked words


_learned = [0]


def learned_generation() -> int:
    """Grows each time this process learns a word: a cache of the words is then stale."""
    return _learned[0]


def learn_blocked_words(account: str, words: Iterable[str], source: Message | None) -> list[str]:
    """Remember words the gateway refused on ``account``; returns the new ones."""
    learned = []
    for word in {w.strip() for w in words if w and w.strip()}:
        try:
            with transaction.atomic():
                BlockedWord.objects.create(account=account, word=word[:100], source=source)
        except IntegrityError:
            continue
        learned.append(word)
    if learned:
        _learned[0] += 1
        logger.warning("learned blocked words on account %r: %s", account, ", ".join(learned))
    return learned


def learned_words(account: str) -> list[str]:
    """The words the gateway refused on ``account``, still in force."""
    return list(
        BlockedWord.objects.filter(account=account, is_active=True).values_list("word", flat=True)
    )


def blocked_words_in(text: str, account: str) -> list[str]:
    return sorted(w for w in learned_words(account) if w in text)


# --------------------------------------------------------------------------- parts and cost


def parts(text: str, account: str = "default") -> int:
    """Billable parts of ``text`` on ``account``, the signature the gateway adds included."""
    return part_counter(account)(text)


def part_counter(account: str = "default") -> Callable[[str], int]:
    """:func:`parts` for many texts of one account: the settings are read once."""
    conf = xunchen_settings(account)
    single, each = (int(n) for n in conf["PART_LENGTHS"])
    signature = len(conf["SIGNATURE"] or "")

    def count(text: str) -> int:
        length = len(text) + signature
        return 1 if length <= single else math.ceil(length / each)

    return count


def price_per_part(account: str = "default") -> Decimal:
    return Decimal(str(xunchen_settings(account)["PRICE_PER_PART"]))


@dataclass(frozen=True)
class Estimate:
    """What a send costs: ``numbers`` valid numbers, ``parts`` per message (the text is
    the same for every number), ``total_parts``, ``cost`` at the account's price."""

    numbers: int
    parts: int
    total_parts: int
    cost: Decimal
    text: str
    characters: int


def estimate(
    mobiles: str | Iterable[object],
    content: str | None = None,
    *,
    template: Template | None = None,
    params: Any = None,
    kind: str = Kind.NOTIFICATION,
    account: str = "default",
) -> Estimate:
    """Numbers, parts per message, total parts and cost of a send, without sending; the
    marketing footer included. Bad numbers raise as :func:`~django_xunchen.send_sms`
    would."""
    numbers = validate_mobiles(mobiles)
    if template is not None:
        text = template.render(params)
    else:
        text = content or ""
        if kind == Kind.MARKETING:
            text = with_footer(text, account)
    each = parts(text, account)
    total = each * len(numbers)
    return Estimate(
        numbers=len(numbers),
        parts=each,
        total_parts=total,
        cost=price_per_part(account) * total,
        text=text,
        characters=len(text) + len(xunchen_settings(account)["SIGNATURE"] or ""),
    )


def queued_cost(account: str) -> Decimal:
    """What the messages still waiting on ``account`` will cost."""
    from django.db.models import Sum

    total = Message.objects.filter(
        account=account, status__in=[Message.Status.QUEUED, Message.Status.SENDING]
    ).aggregate(parts=Sum("parts"))["parts"]
    return price_per_part(account) * (total or 0)


__all__ = [
    "Estimate",
    "apply_bounces",
    "apply_reply_keywords",
    "blocked_words_in",
    "estimate",
    "learn_blocked_words",
    "normalize_reply",
    "parts",
    "quiet_until",
    "reply_intent",
    "suppress",
    "suppressed",
    "unsuppress",
    "with_footer",
]
