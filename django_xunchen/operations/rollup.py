"""Daily figures for the dashboard, from a rollup instead of a count of a million rows.

The figures of a day are the messages created that day (in the site's time zone), per
account, kind and status, with their parts; the analytics' figures of the same day, with
more dimensions (:mod:`django_xunchen.analytics.figures`), are recounted with them, in
the same transaction. They come
from :class:`~django_xunchen.models.DailyFigure`, computed once per day and again only
when a message of that day changes: sending, polling and the other writers call
:func:`touched` or :func:`touched_where` for the rows they move, which marks their days
stale, and the next :func:`maintain` (every poll, and the dashboard if need be) recounts
those days alone. Today, where most changes happen, is rolled up only up to the last
full hour at least :data:`SETTLE` ago (its ``RollupDay.settled_until``, recounted at most
once an hour or when one of those rows changes); the messages since are counted live (a
few hours of the ``created_at`` index at most), so that the dashboard of a busy day does
not count the whole day at every view.

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
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from ..analytics import figures as dimensional
from ..models import DailyFigure, DeliveryFigure, FailureFigure, Message, RollupDay

#: Today's messages older than this (from the last full hour before it) are rolled up;
#: most status changes (the outcome, the report) come within minutes of creation.
SETTLE = dt.timedelta(hours=1)

#: ``{day: {(account, kind, status): (messages, parts)}}``
Figures = dict[dt.date, dict[tuple[str, str, str], tuple[int, int]]]


def today() -> dt.date:
    """Today in the site's time zone (with ``USE_TZ = False`` too)."""
    return _local_day(timezone.now())


def start_of(day: dt.date) -> dt.datetime:
    """The first moment of ``day`` in the site's time zone."""
    return _start_of(day)


def _start_of(day: dt.date) -> dt.datetime:
    moment = dt.datetime.combine(day, dt.time.min)
    return timezone.make_aware(moment) if timezone.is_aware(timezone.now()) else moment


def settled_until() -> dt.datetime | None:
    """Where today's live count starts: the last full hour at least :data:`SETTLE` ago,
    or None while that is before today's midnight (all of today is counted live)."""
    now = timezone.localtime() if timezone.is_aware(timezone.now()) else timezone.now()
    cutoff = (now - SETTLE).replace(minute=0, second=0, microsecond=0)
    return cutoff if cutoff > _start_of(_local_day(now)) else None


def _count(
    first: dt.date,
    last: dt.date,
    since: dt.datetime | None = None,
    before: dt.datetime | None = None,
) -> Figures:
    """Count the messages created from ``first`` to ``last`` (both included), or from
    ``since`` and before ``before`` within those days."""
    rows = (
        Message.objects.filter(
            created_at__gte=since or _start_of(first),
            created_at__lt=before or _start_of(last + dt.timedelta(1)),
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
    today (recounting stale or missing days first), and today rolled up to
    :func:`settled_until` (recounted first if need be) plus a live count of the rest."""
    day = today()
    cutoff = settled_until() if first <= day <= last else None
    stored_last = min(last, day - dt.timedelta(1))
    upto = day if cutoff else stored_last
    result: Figures = defaultdict(dict)
    if first <= upto:
        rows = {r.day: r for r in RollupDay.objects.filter(day__gte=first, day__lte=upto)}
        past = [first + dt.timedelta(i) for i in range((stored_last - first).days + 1)]
        todo = [d for d in past if not _whole(rows.get(d))]
        if todo:
            RollupDay.objects.bulk_create([RollupDay(day=d) for d in todo], ignore_conflicts=True)
            _recount(todo)
        if cutoff:
            _settle(day, cutoff, rows.get(day))
        for f in DailyFigure.objects.filter(day__gte=first, day__lte=upto):
            result[f.day][(f.account, f.kind, f.status)] = (f.messages, f.parts)
    if last >= day:
        for counted_day, counted in _count(max(first, day), last, since=cutoff).items():
            figures_of_day = result[counted_day]
            for key, (messages, parts) in counted.items():
                stored_messages, stored_parts = figures_of_day.get(key, (0, 0))
                figures_of_day[key] = (stored_messages + messages, stored_parts + parts)
    return result


def settle() -> bool:
    """Roll today up to :func:`settled_until` if its rolled-up part is stale or ends
    earlier (every poll does, so that the dashboard only reads it); returns whether it
    recounted."""
    cutoff = settled_until()
    if cutoff is None:
        return False
    day = today()
    return _settle(day, cutoff, RollupDay.objects.filter(day=day).first())


def _settle(day: dt.date, cutoff: dt.datetime, row: RollupDay | None) -> bool:
    if row is not None and not row.stale and row.settled_until == cutoff:
        return False
    RollupDay.objects.bulk_create([RollupDay(day=day)], ignore_conflicts=True)
    _recount_settled(day, cutoff)
    return True


def _whole(row: RollupDay | None) -> bool:
    """Whether ``row``'s day is rolled up, all of it, and fresh."""
    return row is not None and not row.stale and row.settled_until is None


def _recount_settled(day: dt.date, cutoff: dt.datetime) -> None:
    """Recount ``day`` up to ``cutoff`` as :func:`_recount` does whole days: the UPDATE
    takes its row first, then the count runs (a change that marks it stale meanwhile
    waits for the commit, and lands after)."""
    with transaction.atomic():
        RollupDay.objects.filter(day=day).update(stale=False, settled_until=cutoff)
        DailyFigure.objects.filter(day=day).delete()
        counted = _count(day, day, before=cutoff).get(day, {})
        DailyFigure.objects.bulk_create(
            DailyFigure(day=day, account=account, kind=kind, status=status, messages=m, parts=p)
            for (account, kind, status), (m, p) in counted.items()
        )
        dimensional.store({day: (_start_of(day), cutoff)})


def maintain(first: dt.date | None = None, last: dt.date | None = None, days: int = 30) -> int:
    """Recount the days from ``first`` to ``last`` (default: the ``days`` before
    today) that are stale or were never counted; returns how many."""
    boundary = today()
    last = min(last or boundary - dt.timedelta(1), boundary - dt.timedelta(1))
    first = first or last - dt.timedelta(days=days - 1)
    if first > last:
        return 0
    wanted = [first + dt.timedelta(i) for i in range((last - first).days + 1)]
    fresh = set(
        RollupDay.objects.filter(
            day__gte=first, day__lte=last, stale=False, settled_until__isnull=True
        ).values_list("day", flat=True)
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
            .filter(Q(stale=True) | Q(settled_until__isnull=False), day__in=days)
            .values_list("day", flat=True)
        )
        if not taken:
            return 0  # another process just did them
        RollupDay.objects.filter(day__in=taken).update(stale=False, settled_until=None)
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
        dimensional.store(
            {day: (_start_of(day), _start_of(day + dt.timedelta(1))) for day in taken}
        )
    return len(taken)


def rebuild(days: int | None = None) -> int:
    """Forget the rollup (of the last ``days`` days before today, or all of it)
    and recount it: the days that have messages, and the 30 the dashboard shows."""
    boundary = today()
    if days is not None:
        first = boundary - dt.timedelta(days=days)
        for model in (RollupDay, DailyFigure, DeliveryFigure, FailureFigure):
            model.objects.filter(day__gte=first).delete()
        return maintain(first)
    for model in (RollupDay, DailyFigure, DeliveryFigure, FailureFigure):
        model.objects.all().delete()
    first_created = (
        Message.objects.filter(created_at__lt=_start_of(boundary))
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    first = _local_day(first_created) if first_created else boundary
    return maintain(min(first, boundary - dt.timedelta(days=30)))


def touched(rows: Iterable[Message]) -> None:
    """Mark the days of ``rows`` stale (today only for rows in its settled part): call
    after changing their status or account."""
    cutoff = settled_until() or _start_of(today())
    days: set[dt.date] = set()
    last = None
    for row in rows:
        moment = row.created_at
        # The rows of one send share one created_at: look at each moment once.
        if moment is not None and moment is not last:
            if moment < cutoff:
                days.add(_local_day(moment))
            last = moment
    _stale(days)


def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def touched_where(queryset: QuerySet[Message]) -> None:
    """Mark the days of the rows of ``queryset`` stale: call before a set-based change
    of their status (one query, for the rows created before today's live part)."""
    old = queryset.filter(created_at__lt=settled_until() or _start_of(today()))
    _stale(set(old.dates("created_at", "day")))


def _stale(days: set[dt.date]) -> None:
    if days:
        RollupDay.objects.filter(day__in=days, stale=False).update(stale=True)


def recount(first: dt.date, last: dt.date) -> Figures:
    """The figures counted from the messages themselves, for comparison."""
    return _count(first, last)


__all__ = [
    "figures",
    "maintain",
    "rebuild",
    "recount",
    "settle",
    "settled_until",
    "touched",
    "touched_where",
]
