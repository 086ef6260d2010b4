"""Daily figures for the dashboard, from a rollup instead of a count of a million rows.

The figures of a day are the messages created that day (in the site's time zone), per
account, kind and status, with their parts. Today, where most changes happen, is
counted live (a day of the ``created_at`` index). Older days come
from :class:`~django_xunchen.models.DailyFigure`, computed once per day and again only
when a message of that day changes: sending, polling and the other writers call
:func:`touched` or :func:`touched_where` for the rows they move, which marks their days
stale, and the next :func:`maintain` (every poll, and the dashboard if need be) recounts
those days alone.

Recounting takes the days' :class:`~django_xunchen.models.RollupDay` rows first (a row
lock on PostgreSQL, the write lock on SQLite) and counts after; marking a day stale
waits for that lock: a change that lands while a day is being recounted leaves it stale,
never wrong. Deleting old messages (``sms_cleanup``) leaves their figures: the rollup is
the history. ``manage.py sms_rollup --rebuild`` recounts everything.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from .models import DailyFigure, Message, RollupDay

#: Today is counted live; yesterday and before come from the rollup.
LIVE_DAYS = 1

#: ``{day: {(account, kind, status): (messages, parts)}}``
Figures = dict[dt.date, dict[tuple[str, str, str], tuple[int, int]]]


def today() -> dt.date:
    """Today in the site's time zone (with ``USE_TZ = False`` too)."""
    return _local_day(timezone.now())


def live_from() -> dt.date:
    """The first day counted live."""
    return today() - dt.timedelta(days=LIVE_DAYS - 1)


def _start_of(day: dt.date) -> dt.datetime:
    moment = dt.datetime.combine(day, dt.time.min)
    return timezone.make_aware(moment) if timezone.is_aware(timezone.now()) else moment


def _count(first: dt.date, last: dt.date) -> Figures:
    """Count the messages created from ``first`` to ``last`` (both included)."""
    rows = (
        Message.objects.filter(
            created_at__gte=_start_of(first), created_at__lt=_start_of(last + dt.timedelta(1))
        )
        .annotate(day=TruncDate("created_at"))
        .values("day", "account", "kind", "status")
        .annotate(messages=Count("id"), parts=Coalesce(Sum("parts"), 0))
        .order_by()
    )
    result: Figures = defaultdict(dict)
    for row in rows:
        key = (row["account"], row["kind"], row["status"])
        result[row["day"]][key] = (row["messages"], row["parts"])
    return result


def figures(first: dt.date, last: dt.date) -> Figures:
    """The figures of every day from ``first`` to ``last``: rolled up before
    :func:`live_from` (recounting stale or missing days first), counted live after."""
    boundary = live_from()
    result: Figures = defaultdict(dict)
    if first < boundary:
        stored_last = min(last, boundary - dt.timedelta(1))
        maintain(first, stored_last)
        for f in DailyFigure.objects.filter(day__gte=first, day__lte=stored_last):
            result[f.day][(f.account, f.kind, f.status)] = (f.messages, f.parts)
    if last >= boundary:
        result.update(_count(max(first, boundary), last))
    return result


def maintain(first: dt.date | None = None, last: dt.date | None = None, days: int = 30) -> int:
    """Recount the days from ``first`` to ``last`` (default: the ``days`` before the
    live ones) that are stale or were never counted; returns how many."""
    boundary = live_from()
    last = min(last or boundary - dt.timedelta(1), boundary - dt.timedelta(1))
    first = first or last - dt.timedelta(days=days - 1)
    if first > last:
        return 0
    wanted = [first + dt.timedelta(i) for i in range((last - first).days + 1)]
    fresh = set(
        RollupDay.objects.filter(day__gte=first, day__lte=last, stale=False).values_list(
            "day", flat=True
        )
    )
    todo = [day for day in wanted if day not in fresh]
    if not todo:
        return 0
    RollupDay.objects.bulk_create([RollupDay(day=d) for d in todo], ignore_conflicts=True)
    return _recount(todo)


def _recount(days: list[dt.date]) -> int:
    """Recount ``days`` in one transaction: take their rows, then count, so that a change
    marking one of them stale waits and lands after (see the module docstring)."""
    with transaction.atomic():
        taken = sorted(
            RollupDay.objects.select_for_update()
            .filter(day__in=days, stale=True)
            .values_list("day", flat=True)
        )
        if not taken:
            return 0  # another process just did them
        RollupDay.objects.filter(day__in=taken).update(stale=False)
        DailyFigure.objects.filter(day__in=taken).delete()
        counted = _count(taken[0], taken[-1])
        DailyFigure.objects.bulk_create(
            DailyFigure(
                day=day,
                account=account,
                kind=kind,
                status=status,
                messages=messages,
                parts=parts,
            )
            for day in taken
            for (account, kind, status), (messages, parts) in counted.get(day, {}).items()
        )
    return len(taken)


def rebuild(days: int | None = None) -> int:
    """Forget the rollup (of the last ``days`` days before the live ones, or all of it)
    and recount it: the days that have messages, and the 30 the dashboard shows."""
    boundary = live_from()
    if days is not None:
        first = boundary - dt.timedelta(days=days)
        RollupDay.objects.filter(day__gte=first).delete()
        DailyFigure.objects.filter(day__gte=first).delete()
        return maintain(first)
    RollupDay.objects.all().delete()
    DailyFigure.objects.all().delete()
    first_created = (
        Message.objects.filter(created_at__lt=_start_of(boundary))
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    first = _local_day(first_created) if first_created else boundary
    return maintain(min(first, boundary - dt.timedelta(days=30)))


def touched(rows: Iterable[Message]) -> None:
    """Mark the days of ``rows`` stale: call after changing their status or account."""
    days: set[dt.date] = set()
    last = None
    for row in rows:
        moment = row.created_at
        # The rows of one send share one created_at: convert each moment once.
        if moment is not None and moment is not last:
            days.add(_local_day(moment))
            last = moment
    _stale(days)


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def touched_where(queryset: QuerySet[Message]) -> None:
    """Mark the days of the rows of ``queryset`` stale: call before a set-based change
    of their status (one query, for the rows created before the live days)."""
    old = queryset.filter(created_at__lt=_start_of(live_from()))
    _stale(set(old.dates("created_at", "day")))


def _stale(days: set[dt.date]) -> None:
    days = {d for d in days if d < live_from()}
    if days:
        RollupDay.objects.filter(day__in=days, stale=False).update(stale=True)


def recount(first: dt.date, last: dt.date) -> Figures:
    """The figures counted from the messages themselves, for comparison."""
    return _count(first, last)


__all__ = ["figures", "maintain", "rebuild", "recount", "touched", "touched_where"]
