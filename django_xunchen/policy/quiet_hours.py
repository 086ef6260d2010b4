"""Quiet hours: the window of each account (China time) in which marketing waits for its end."""

from __future__ import annotations

import datetime as dt

from ..client.types import CHINA_TZ
from ..conf import xunchen_settings


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
