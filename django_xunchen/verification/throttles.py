"""The throttles on code requests and checks: row-locked buckets per number, IP and
prefix, so that they hold across processes and machines.

The per-IP throttle counts by :func:`ip_key`: an IPv4 address, or the IPv6 network of
``IPV6_PREFIX`` bits an address belongs to, since one subscriber holds a whole /64 (or
more) and can rotate through it at will."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from ..conf import verification_settings
from ..models import ThrottleBucket, ThrottleEvent, gateway_day_start

Reason = ThrottleEvent.Reason


def normalize_ip(value: object) -> str:
    """``value`` as an address in its canonical text: IPv4 dotted, IPv6 compressed and
    without a zone (``%eth0``). An IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is the
    IPv4 address it carries: a dual-stack server sees IPv4 clients that way. Raises
    ``ValueError`` for anything that is not one address."""
    address = ipaddress.ip_address(str(value).strip())
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        address = ipaddress.IPv6Address(int(address))  # drops the zone
    return str(address)


def ip_key(value: object, prefix: int | None = None) -> str | None:
    """What the per-IP throttle counts by, and what ``ThrottleEvent.ip`` and the ``ip:``
    bucket hold: an IPv4 address as it is (an IPv4-mapped IPv6 address included), an
    IPv6 address as its network of ``prefix`` bits (``VERIFICATION["IPV6_PREFIX"]``, 64
    by default), e.g. ``"2001:db8:1:2::/64"``. ``None`` for no address. Raises
    ``ValueError`` for anything that is not one address."""
    if value is None or value == "":
        return None
    address = ipaddress.ip_address(normalize_ip(value))
    if address.version == 4:
        return str(address)
    bits = int(verification_settings()["IPV6_PREFIX"]) if prefix is None else prefix
    return str(ipaddress.IPv6Network((address, bits), strict=False))


@dataclass
class _Verdict:
    reason: str = ""
    retry_after: int = 0
    alarm: int = 0


def _judge(mobile: str, ip: str | None, prefix: str, conf: dict[str, Any]) -> _Verdict:
    """Count what the throttles allow, under the bucket locks (two queries). ``ip`` is
    the client's :func:`ip_key`."""
    now = timezone.now()
    minute = now - dt.timedelta(seconds=conf["COOLDOWN"])
    hour, day = now - dt.timedelta(hours=1), now - dt.timedelta(days=1)
    window = now - dt.timedelta(seconds=conf["PREFIX_WINDOW"])
    volume_since = gateway_day_start(now)
    sent = ThrottleEvent.objects.filter(outcome=ThrottleEvent.Outcome.SENT, lifted=False)
    mine = Q(mobile=mobile)
    counts = sent.filter(
        Q(mobile=mobile, at__gte=day)
        | Q(prefix=prefix, at__gte=window)
        | (Q(ip=ip, at__gte=hour) if ip else Q(pk__in=[]))
        | Q(at__gte=volume_since)
    ).aggregate(
        cooldown=Count("pk", filter=mine & Q(at__gte=minute)),
        hourly=Count("pk", filter=mine & Q(at__gte=hour)),
        daily=Count("pk", filter=mine),
        ip=Count("pk", filter=Q(ip=ip, at__gte=hour) if ip else Q(pk__in=[])),
        prefix=Count("pk", filter=Q(prefix=prefix, at__gte=window)),
        volume=Count("pk", filter=Q(at__gte=volume_since)),
    )
    verdict = _Verdict()
    if counts["volume"] >= conf["DAILY_ALARM"]:
        verdict.alarm = counts["volume"]
        if conf["DAILY_BLOCK"]:
            verdict.reason = Reason.VOLUME
            verdict.retry_after = _seconds(volume_since + dt.timedelta(days=1) - now)
            return verdict
    checks = [  # the longest wait first
        (Reason.DAILY, counts["daily"] >= conf["PER_DAY"], 86400),
        (Reason.HOURLY, counts["hourly"] >= conf["PER_HOUR"], 3600),
        (Reason.COOLDOWN, counts["cooldown"] >= 1, conf["COOLDOWN"]),
        (Reason.IP, bool(ip) and counts["ip"] >= conf["IP_PER_HOUR"], 3600),
    ]
    for reason, hit, wait in checks:
        if hit:
            verdict.reason, verdict.retry_after = reason, _wait_for(reason, mobile, ip, wait)
            return verdict
    if counts["prefix"] >= conf["PREFIX_LIMIT"]:
        verdict.reason = Reason.PREFIX
        verdict.retry_after = conf["PREFIX_BLOCK"]
    return verdict


def _wait_for(reason: str, mobile: str, ip: str | None, window: int) -> int:
    """Seconds until the oldest event counting against ``reason`` leaves its window
    (``ip``: the client's :func:`ip_key`)."""
    conf = verification_settings()
    sent = ThrottleEvent.objects.filter(outcome=ThrottleEvent.Outcome.SENT, lifted=False)
    now = timezone.now()
    since = now - dt.timedelta(seconds=window)
    query = sent.filter(ip=ip) if reason == Reason.IP else sent.filter(mobile=mobile)
    limit = {
        Reason.COOLDOWN: 1,
        Reason.HOURLY: conf["PER_HOUR"],
        Reason.DAILY: conf["PER_DAY"],
        Reason.IP: conf["IP_PER_HOUR"],
    }[reason]
    times = list(query.filter(at__gte=since).order_by("-at").values_list("at", flat=True)[:limit])
    if len(times) < limit:
        return 1
    return max(1, _seconds(times[-1] + dt.timedelta(seconds=window) - now))


def seconds_until_next_code(mobile: str) -> int:
    """Seconds before ``mobile`` may ask for another code by its own limits (the
    cooldown, the hourly and the daily count), 0 when it may now: for a page that shows
    the *Get code* button disabled after a reload. Reads; never writes. The limits of
    the client's IP, the prefix and the day's volume are counted when the code is asked
    for."""
    conf = verification_settings()
    now = timezone.now()
    mine = ThrottleEvent.objects.filter(
        outcome=ThrottleEvent.Outcome.SENT, lifted=False, mobile=mobile
    )
    counts = mine.filter(at__gte=now - dt.timedelta(days=1)).aggregate(
        cooldown=Count("pk", filter=Q(at__gte=now - dt.timedelta(seconds=conf["COOLDOWN"]))),
        hourly=Count("pk", filter=Q(at__gte=now - dt.timedelta(hours=1))),
        daily=Count("pk"),
    )
    checks = [
        (Reason.DAILY, counts["daily"] >= conf["PER_DAY"], 86400),
        (Reason.HOURLY, counts["hourly"] >= conf["PER_HOUR"], 3600),
        (Reason.COOLDOWN, counts["cooldown"] >= 1, conf["COOLDOWN"]),
    ]
    return max((_wait_for(r, mobile, None, window) for r, hit, window in checks if hit), default=0)


def _seconds(delta: dt.timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))


def _lock_buckets(keys: list[str]) -> dict[str, ThrottleBucket]:
    """Create the missing buckets of ``keys`` and lock all of them. A bucket that
    ``sms_cleanup`` deleted between the two is created again."""
    buckets: dict[str, ThrottleBucket] = {}
    while len(buckets) < len(keys):
        ThrottleBucket.objects.bulk_create(
            [ThrottleBucket(key=k) for k in keys if k not in buckets], ignore_conflicts=True
        )
        buckets.update(
            (b.key, b)
            for b in ThrottleBucket.objects.select_for_update().filter(key__in=keys).order_by("key")
        )
    return buckets


def lift_throttles(mobiles: list[str]) -> int:
    """Make the past requests of these numbers no longer count (staff, from the admin);
    returns how many events were lifted."""
    lifted = ThrottleEvent.objects.filter(
        mobile__in=mobiles, lifted=False, outcome=ThrottleEvent.Outcome.SENT
    ).update(lifted=True)
    ThrottleBucket.objects.filter(key__in=[f"mobile:{m}" for m in mobiles]).update(
        blocked_until=None
    )
    return lifted
