"""The delivery alarm: an account's delivery on one carrier, or in one province (both by
allocation), collapsing against its usual rate, or its reports coming too slowly.

A **channel** is an account × carrier or an account × province (a known one: the
messages whose carrier or province is unknown are not watched). Its recent delivery is
counted over the messages **submitted between 75 and 15 minutes ago** (the
``submitted_at`` index): an hour of them, each given at least 15 minutes to be reported,
so that the reports still on their way do not read as failures. Its usual rate is that of
the **7 whole days before today**, read from the rollup
(:class:`~django_xunchen.models.DeliveryFigure`). ``XUNCHEN["HEALTH"]`` tunes it:

- the rate (delivered ÷ billed) below ``DEGRADED_FRACTION`` of the usual rate, with at
  least ``DEGRADED_MIN_MESSAGES`` billed messages in the hour (a channel without a usual
  rate, or with a usual rate of 0, is not judged);
- or, when ``DEGRADED_P90_SECONDS`` is above 0, the p90 report latency of the hour's
  messages that were reported (from the latency histogram, as the analytics page reads
  it: the upper bound of its bucket) above it, with at least ``DEGRADED_MIN_MESSAGES``
  reports.

:func:`degraded` finds them in one statement (:func:`query`: the hour grouped per
account, carrier and province, and the 7 days of the rollup, joined by ``UNION ALL``).
``sms_health``, the health view and the admin's banner read them through the
``delivery`` check, which runs that statement inside the one the checks already make
(the admin's pages keep to ten queries). :func:`watch` (run by
:func:`django_xunchen.operations.alerts.watch`) raises each channel's alert once per
crossing: an ERROR on ``django_xunchen.health`` and the ``delivery_degraded`` signal
after the commit, remembered as the :class:`~django_xunchen.models.HealthAlert`
``delivery_degraded:<account>:<dimension>:<code>`` until the channel is no longer
degraded (its rate back, or too few messages in the hour to judge it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import CharField, Count, F, IntegerField, Q, QuerySet, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import signals
from ..conf import health_settings
from ..models import DeliveryFigure, HealthAlert, Message
from . import latency
from .numbers import carrier_label, province_label

logger = logging.getLogger("django_xunchen.health")

#: The hour of messages judged ends this long before now: their reports had time to come.
SETTLE = dt.timedelta(minutes=15)
#: How long the judged hour is: the messages submitted 75 to 15 minutes ago.
SPAN = dt.timedelta(hours=1)
#: The whole days before today whose rate is the usual one.
BASELINE_DAYS = 7
#: What a channel is made of, besides its account.
DIMENSIONS = ("carrier", "province")
#: The start of each channel's :class:`~django_xunchen.models.HealthAlert` key.
KEY = "delivery_degraded"
#: The latency percentile watched.
P90 = 0.9

_WINDOW, _BASELINE = "window", "baseline"
_HISTOGRAM = tuple(f"n_{column}" for column in latency.COLUMNS)


@dataclass(frozen=True)
class Degradation:
    """One degraded channel: ``account`` on the carrier or in the province ``value``
    (``dimension`` is ``"carrier"`` or ``"province"``). ``rate``: delivered ÷ billed
    over the ``messages`` billed messages submitted 75 to 15 minutes ago; ``baseline``:
    the same over the 7 days before today (``None``: none); ``p90``: the p90 report
    latency of the ``reports`` of them that were reported, in seconds (a bucket's upper
    bound, ``None`` without reports). ``collapsed``: the rate rule fired; ``slow``: the
    latency rule did."""

    account: str
    dimension: str
    value: str
    rate: float
    baseline: float | None
    messages: int
    p90: int | None
    reports: int
    collapsed: bool
    slow: bool

    @property
    def key(self) -> str:
        """Its :class:`~django_xunchen.models.HealthAlert`'s key."""
        return f"{KEY}:{self.account}:{self.dimension}:{self.value}"[:100]

    @property
    def label(self) -> str:
        """The carrier's or the province's name, in the active language."""
        if self.dimension == "carrier":
            return carrier_label(self.value)
        return province_label(self.value)

    @property
    def channel(self) -> str:
        """The channel named, e.g. "account default, carrier China Mobile (by allocation)"."""
        if self.dimension == "carrier":
            where = _("carrier %(carrier)s (by allocation)") % {"carrier": self.label}
        else:
            where = _("province %(province)s (by allocation)") % {"province": self.label}
        return _("account %(account)s, %(channel)s") % {"account": self.account, "channel": where}

    @property
    def detail(self) -> str:
        """What is wrong, in a sentence or two, in the active language."""
        found = []
        if self.collapsed:
            found.append(
                _(
                    "Delivery degraded on %(channel)s: %(rate)s of the %(messages)d messages "
                    "submitted 15 to 75 minutes ago were delivered, against %(baseline)s over "
                    "the 7 days before."
                )
                % {
                    "channel": self.channel,
                    "rate": _percent(self.rate),
                    "messages": self.messages,
                    "baseline": _percent(self.baseline or 0),
                }
            )
        if self.slow:
            found.append(
                _(
                    "Delivery reports slow on %(channel)s: the p90 report latency of the "
                    "messages submitted 15 to 75 minutes ago is %(p90)s (%(reports)d "
                    "reports), above DEGRADED_P90_SECONDS."
                )
                % {
                    "channel": self.channel,
                    "p90": latency.label(self.p90),
                    "reports": self.reports,
                }
            )
        return " ".join(found)


def _percent(fraction: float) -> str:
    return f"{fraction:.0%}"


@dataclass
class _Tally:
    delivered: int = 0
    billed: int = 0
    histogram: list[int] = field(default_factory=lambda: [0] * len(latency.COLUMNS))


def degraded(
    now: dt.datetime | None = None, conf: dict[str, Any] | None = None
) -> list[Degradation]:
    """Every degraded channel, by account, then carriers before provinces, then code.
    One statement (:func:`query`). ``conf``: ``XUNCHEN["HEALTH"]``, read unless given."""
    return judge(query(now or timezone.now()), conf)


def query(now: dt.datetime) -> QuerySet[Any]:
    """The one statement :func:`judge` reads: the messages submitted 75 to 15 minutes
    before ``now`` and the rollup of the 7 days before its day, each grouped per account,
    carrier and province, joined by ``UNION ALL``. Its columns: ``part`` (``"window"``
    or ``"baseline"``), ``account``, ``carrier``, ``province``, ``n_delivered``,
    ``n_billed`` and the latency histogram ``n_latency_0`` … ``n_latency_14``."""
    return _window(now).union(_baseline(now), all=True).order_by()


def judge(
    rows: Iterable[Mapping[str, Any]], conf: dict[str, Any] | None = None
) -> list[Degradation]:
    """The degraded channels in the rows of :func:`query` (a row whose ``part`` is
    ``None`` is skipped: the statement may be the right side of an outer join)."""
    conf = conf or health_settings()
    fraction = float(conf["DEGRADED_FRACTION"])
    minimum = max(float(conf["DEGRADED_MIN_MESSAGES"]), 1)
    limit = float(conf["DEGRADED_P90_SECONDS"])
    window, baseline = _tallies(rows)
    found = []
    for (account, dimension, value), seen in sorted(
        window.items(), key=lambda item: (item[0][0], DIMENSIONS.index(item[0][1]), item[0][2])
    ):
        usual = baseline.get((account, dimension, value))
        rate = seen.delivered / seen.billed if seen.billed else 0.0
        usual_rate = usual.delivered / usual.billed if usual and usual.billed else None
        collapsed = bool(seen.billed >= minimum and usual_rate and rate < fraction * usual_rate)
        reports = sum(seen.histogram)
        p90 = latency.percentile(seen.histogram, P90)
        slow = bool(limit > 0 and reports >= minimum and p90 is not None and p90 > limit)
        if collapsed or slow:
            found.append(
                Degradation(
                    account=account,
                    dimension=dimension,
                    value=value,
                    rate=rate,
                    baseline=usual_rate,
                    messages=seen.billed,
                    p90=p90,
                    reports=reports,
                    collapsed=collapsed,
                    slow=slow,
                )
            )
    return found


def _tallies(
    rows: Iterable[Mapping[str, Any]],
) -> tuple[dict[tuple[str, str, str], _Tally], dict[tuple[str, str, str], _Tally]]:
    """The judged hour's and the 7 days' tallies per channel ``(account, dimension,
    value)``."""
    tallies: dict[str, dict[tuple[str, str, str], _Tally]] = {
        _WINDOW: defaultdict(_Tally),
        _BASELINE: defaultdict(_Tally),
    }
    for row in rows:
        if row["part"] is None:
            continue
        for dimension in DIMENSIONS:
            if not row[dimension]:
                continue  # unknown: not a channel
            tally = tallies[row["part"]][(row["account"], dimension, row[dimension])]
            tally.delivered += int(row["n_delivered"] or 0)
            tally.billed += int(row["n_billed"] or 0)
            for index, column in enumerate(_HISTOGRAM):
                tally.histogram[index] += int(row[column] or 0)
    return tallies[_WINDOW], tallies[_BASELINE]


def _grouped(rows: QuerySet[Any], part: str) -> QuerySet[Any]:
    """``rows`` grouped per account, carrier and province, under the name of ``part``;
    the same columns in the same order for both parts of the UNION."""
    labelled = rows.annotate(part=Value(part, output_field=CharField()))
    return labelled.values("part", "account", "carrier", "province")


def _window(now: dt.datetime) -> QuerySet[Any]:
    """The messages submitted between 75 and 15 minutes before ``now``."""
    before = now - SETTLE
    rows = Message.objects.filter(submitted_at__gte=before - SPAN, submitted_at__lt=before)
    buckets = latency.bucket_counts()
    return (
        _grouped(rows, _WINDOW)
        .annotate(
            n_delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
            n_billed=Count("id", filter=Q(status__in=Message.BILLED)),
            **{f"n_{column}": buckets[column] for column in latency.COLUMNS},
        )
        .order_by()
    )


def _baseline(now: dt.datetime) -> QuerySet[Any]:
    """The rollup of the 7 whole days before ``now``'s day (the site's time zone)."""
    today = timezone.localdate(now) if timezone.is_aware(now) else now.date()
    rows = DeliveryFigure.objects.filter(
        day__gte=today - dt.timedelta(days=BASELINE_DAYS), day__lt=today
    )
    billed = F(Message.BILLED[0])
    for status in Message.BILLED[1:]:
        billed += F(status)
    none = Value(0, output_field=IntegerField())
    return (
        _grouped(rows, _BASELINE)
        .annotate(
            n_delivered=Sum("delivered"),
            n_billed=Sum(billed),
            **dict.fromkeys(_HISTOGRAM, none),
        )
        .order_by()
    )


# --------------------------------------------------------------------------- alerts


def watch(now: dt.datetime | None = None) -> list[Degradation]:
    """Raise the alert of each channel that crossed into degraded (an ERROR, and
    ``delivery_degraded`` after the commit: once, until it is clear again) and clear
    those of the channels no longer degraded. Returns the degraded channels."""
    found = degraded(now)
    current = {d.key: d for d in found}
    raised = set(
        HealthAlert.objects.filter(key__startswith=f"{KEY}:", active=True).values_list(
            "key", flat=True
        )
    )
    for key, degradation in current.items():
        if key not in raised:
            _raise(degradation)
    back = sorted(raised - current.keys())
    if back:
        HealthAlert.objects.filter(key__in=back, active=True).update(
            active=False, changed_at=timezone.now()
        )
        for key in back:
            logger.info("%s: delivery is no longer degraded", key)
    return found


def _raise(degradation: Degradation) -> None:
    """Raise one channel's alert, unless another process just did."""
    HealthAlert.objects.get_or_create(key=degradation.key)  # a race to create it ends in a get
    with transaction.atomic():
        crossed = HealthAlert.objects.filter(key=degradation.key, active=False).update(
            active=True, detail=degradation.detail[:500], changed_at=timezone.now()
        )
        if not crossed:
            return
        logger.error("%s: %s", degradation.key, degradation.detail)
        signals.send_on_commit(
            [
                (
                    signals.delivery_degraded,
                    HealthAlert,
                    {"account": degradation.account, "degradation": degradation},
                )
            ]
        )
