"""The public functions, re-exported from ``django_xunchen``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .backends import get_backend
from .client.types import Balance
from .conf import account_names
from .dispatch.queue import send_queued
from .exceptions import XunchenError
from .policy.pricing import estimate, price_per_part
from .polling.result import PollResult
from .polling.run import poll
from .sending.send import resend, send_sms

__all__ = [
    "PollResult",
    "estimate",
    "get_balance",
    "get_balances",
    "poll",
    "resend",
    "send_queued",
    "send_sms",
]


def get_balance(*, account: str | None = None, backend: str | None = None) -> Balance:
    """The balance of ``account`` (``"default"`` when not given) and the number of
    one-part messages it buys at the account's ``PRICE_PER_PART``."""
    with get_backend(backend, account=account) as sms_backend:
        balance = sms_backend.get_balance()
    price = price_per_part(sms_backend.account)
    return Balance(balance.amount, int(balance.amount // price) if price > 0 else balance.messages)


def get_balances(
    *, backend: str | None = None, only: str | None = None
) -> dict[str, Balance | Exception]:
    """Every configured account's balance, by name, in the order of
    :func:`~django_xunchen.conf.account_names`. An account whose balance could not be
    read maps to the error (a :class:`~django_xunchen.exceptions.XunchenError`, or the
    ``ImproperlyConfigured`` of a misconfigured account), so one failing account does not
    hide the others. ``only`` limits it to one account."""
    found: dict[str, Balance | Exception] = {}
    for name in [only] if only else account_names():
        try:
            found[name] = get_balance(account=name, backend=backend)
        except (XunchenError, ImproperlyConfigured) as exc:
            found[name] = exc
    return found
