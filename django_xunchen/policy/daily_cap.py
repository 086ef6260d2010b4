"""The daily cap: how many marketing messages one number may get in a China day."""

from __future__ import annotations

from ..conf import xunchen_settings


def daily_cap(account: str) -> int | None:
    """``MARKETING_DAILY_CAP`` of the account: marketing messages a number may get in a
    day (China Standard Time); ``None``: no cap.
    :mod:`django_xunchen.sending.admission` applies it."""
    return xunchen_settings(account)["MARKETING_DAILY_CAP"]
