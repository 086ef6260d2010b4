"""The monthly spending cap: what an account has spent this calendar month, against its
``MONTHLY_CAP``.

The month is the calendar month in the site's time zone, as the dashboard's days are;
the spend is read from the daily rollup (:mod:`django_xunchen.operations.rollup`), so
it costs a few small queries, not a count of the month's messages. A message counts in
the month it was written, at the account's price per part, from the moment it is
written (``queued``) unless it ends without going out (``suppressed``, ``failed``,
``cancelled``, ``expired``). :mod:`django_xunchen.sending.admission` refuses a send
that would cross the cap; :mod:`django_xunchen.operations.monitoring` warns near it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.utils.translation import gettext as _

from ..conf import xunchen_settings
from ..exceptions import MonthlyCapError
from ..models import Message
from ..operations import rollup
from .pricing import price_per_part

S = Message.Status

#: The statuses of a message that is billed, or will be: waiting to go out, going out,
#: and every outcome after the gateway took it (:attr:`Message.BILLED`).
SPENDING = (S.QUEUED, S.SENDING, *Message.BILLED)


def monthly_cap(account: str) -> Decimal | None:
    """``MONTHLY_CAP`` of ``account`` as an amount of money; ``None``: no cap."""
    cap = xunchen_settings(account)["MONTHLY_CAP"]
    return None if cap is None else Decimal(str(cap))


def month_start(day: dt.date | None = None) -> dt.date:
    """The first day of the month of ``day`` (default: today, in the site's time zone)."""
    return (day or rollup.today()).replace(day=1)


def month_spends(accounts: Iterable[str]) -> dict[str, Decimal]:
    """What each of ``accounts`` spent this month so far (parts × its price per part),
    the rollup read once for all of them."""
    names = list(accounts)
    if not names:
        return {}
    today = rollup.today()
    parts = dict.fromkeys(names, 0)
    for rows in rollup.figures(month_start(today), today).values():
        for (account, _kind, status), (_messages, count) in rows.items():
            if account in parts and status in SPENDING:
                parts[account] += count
    return {name: price_per_part(name) * parts[name] for name in names}


def month_spend(account: str) -> Decimal:
    """What ``account`` spent this month so far: see :func:`month_spends`."""
    return month_spends([account])[account]


def refusal(error: MonthlyCapError) -> str:
    """A send refused by the cap, in words for staff (in their language)."""
    return _(
        "Refused: this send costs %(needed)s and would take account %(account)s over its "
        "monthly spending cap of %(cap)s (spent this month: %(spent)s). Nothing was written "
        "or sent."
    ) % {"needed": error.needed, "account": error.account, "cap": error.cap, "spent": error.spent}
