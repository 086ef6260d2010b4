"""Send SMS through the Jiangsu Xunchen HTTP gateway from Django.

The Django-facing API (``send_sms``, ``get_balance``, ``poll``, ``outbox``, and for async
views ``asend_sms``, ``arequest_code``, ``acheck_code``, ``aget_balance``) is loaded on
first use, so that ``django_xunchen.client`` and ``django_xunchen.fake_gateway`` stay
importable without configured Django settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _moved
from .version import __version__

_moved.install()

__all__ = [
    "__version__",
    "acheck_code",
    "aget_balance",
    "aget_balances",
    "arequest_code",
    "asend_sms",
    "estimate",
    "get_balance",
    "get_balances",
    "outbox",
    "poll",
    "resend",
    "send_queued",
    "send_sms",
]

if TYPE_CHECKING:
    from .aio import acheck_code, aget_balance, aget_balances, arequest_code, asend_sms
    from .api import estimate, get_balance, get_balances, poll, resend, send_queued, send_sms
    from .backends.locmem import outbox


def __getattr__(name: str) -> Any:
    # Imported on first use, not here: the Django-facing API needs configured settings
    # and the app registry, which ``django_xunchen.client`` users do not have.
    if name in (
        "send_sms",
        "estimate",
        "get_balance",
        "get_balances",
        "poll",
        "resend",
        "send_queued",
    ):
        from . import api

        return getattr(api, name)
    if name in ("asend_sms", "arequest_code", "acheck_code", "aget_balance", "aget_balances"):
        from . import aio

        return getattr(aio, name)
    if name == "outbox":
        from .backends import locmem

        return locmem.outbox
    raise AttributeError(f"module 'django_xunchen' has no attribute {name!r}")
