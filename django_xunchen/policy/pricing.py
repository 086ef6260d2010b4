"""Parts and price: how many parts a text takes and what a send will cost."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..client.types import Mobiles
from ..client.validation import validate_mobiles
from ..conf import xunchen_settings
from ..models import Message, Template
from .footer import with_footer

Kind = Message.Kind


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
    mobiles: Mobiles,
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
