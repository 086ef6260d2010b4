"""The msgid of a request whose outcome was lost, recovered from its delivery reports.

When a sending process dies after the gateway accepted its request (kill -9, a lost
machine) or the answer never came back, the request's rows end ``unknown`` without a
msgid. The gateway still delivers the SMS and reports each number with the msgid it gave
the request, which then matches no message. Every row of a request keeps the request's
identity (``Message.request``) and the time it was claimed (``Message.requested_at``), so
that a report can prove which rows went in it:

A report whose msgid matches no message of its gateway account recovers a request when
the request has a row for the report's account and mobile that is ``unknown`` (or
``sending`` for longer than the stale margin) and has no msgid, was claimed no later than
the report's time (to the second; a report without a time counts from its receipt) and
at most ``MATCH_WINDOW_DAYS`` before it, and is the only such request. The reports of one
msgid must all agree on that one request, and a request wanted by two msgids is taken by
neither. Every row of the request then takes the msgid and turns ``sent``
(``message_sent`` fires) and the report matches as usual. With more than one candidate
nothing is guessed: the report stays unmatched and is counted as ambiguous.

Only reports whose msgid matched nothing come here: one query for the lot, and nothing
when every msgid matched.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..conf import xunchen_settings
from ..db import from_db_datetime, to_db_datetime
from ..dispatch.claim import stale_after
from ..models import Message
from . import write as outcomes

logger = logging.getLogger("django_xunchen.polling")
Status = Message.Status


@dataclass
class Recovered:
    """What :func:`recover` did."""

    #: Requests that took a msgid from their reports.
    requests: int = 0
    #: Their rows, now ``sent``.
    messages: int = 0
    #: Reports left unmatched because more than one request could be theirs.
    ambiguous: int = 0
    #: The msgids now on messages.
    msgids: set[str] = field(default_factory=set)

    def add(self, other: Recovered) -> None:
        self.requests += other.requests
        self.messages += other.messages
        self.ambiguous += other.ambiguous
        self.msgids |= other.msgids


def lost(now: dt.datetime) -> Q:
    """The rows whose request's outcome is lost: ``unknown``, or ``sending`` for longer
    than any request and its outcome's write can take."""
    stale_before = to_db_datetime(now - stale_after())
    return Q(msgid="", request__isnull=False) & (
        Q(status=Status.UNKNOWN) | Q(status=Status.SENDING, updated_at__lt=stale_before)
    )


def recover(
    reports: Iterable[tuple[str, str, dt.datetime | None]],
    names: list[str],
    now: dt.datetime | None = None,
) -> Recovered:
    """Recover the requests of ``reports`` (``(msgid, mobile, reported_at)`` whose msgid
    matches no message of the gateway account ``names``), by the rule in this module's
    docstring."""
    now = from_db_datetime(now or timezone.now())
    wanted: dict[str, list[tuple[str, dt.datetime]]] = {}
    for msgid, mobile, at in reports:
        if msgid and mobile:
            wanted.setdefault(msgid, []).append((mobile, from_db_datetime(at) or now))
    done = Recovered()
    if not wanted:
        return done
    window = dt.timedelta(days=xunchen_settings()["MATCH_WINDOW_DAYS"])
    times = [at for found in wanted.values() for _, at in found]
    rows = Message.objects.filter(
        lost(now),
        account__in=names,
        mobile__in={mobile for found in wanted.values() for mobile, _ in found},
        requested_at__gte=to_db_datetime(min(times) - window - dt.timedelta(seconds=1)),
        requested_at__lt=to_db_datetime(max(times) + dt.timedelta(seconds=1)),
    ).values_list("mobile", "request", "requested_at")
    by_mobile: dict[str, set[tuple[uuid.UUID, dt.datetime]]] = {}
    for mobile, request, requested_at in rows:
        by_mobile.setdefault(mobile, set()).add((request, from_db_datetime(requested_at)))
    if not by_mobile:
        return done

    chosen: dict[str, uuid.UUID] = {}
    for msgid, found in wanted.items():
        candidates: set[uuid.UUID] | None = None
        for mobile, at in found:
            these = {
                request
                for request, requested_at in by_mobile.get(mobile, ())
                if requested_at.replace(microsecond=0) <= at <= requested_at + window
            }
            candidates = these if candidates is None else candidates & these
        if candidates and len(candidates) == 1:
            chosen[msgid] = next(iter(candidates))
        elif candidates:
            done.ambiguous += _ambiguous(msgid, found, len(candidates))
    taken: dict[uuid.UUID, list[str]] = {}
    for msgid, request in chosen.items():
        taken.setdefault(request, []).append(msgid)
    for request, msgids in taken.items():
        if len(msgids) > 1:
            for msgid in msgids:
                done.ambiguous += _ambiguous(msgid, wanted[msgid], len(msgids), request)
            continue
        _take(request, msgids[0], now, done)
    return done


def _ambiguous(
    msgid: str,
    found: list[tuple[str, dt.datetime]],
    count: int,
    request: uuid.UUID | None = None,
) -> int:
    if request is None:
        logger.warning(
            "delivery reports with msgid %r (%s) could belong to any of %d requests whose "
            "outcome was lost: left unmatched",
            msgid,
            ", ".join(sorted({mobile for mobile, _ in found})),
            count,
        )
    else:
        logger.warning(
            "delivery reports with msgid %r (%s) and %d other msgids all point to request %s, "
            "whose outcome was lost: left unmatched",
            msgid,
            ", ".join(sorted({mobile for mobile, _ in found})),
            count - 1,
            request,
        )
    return len(found)


def _take(request: uuid.UUID, msgid: str, now: dt.datetime, done: Recovered) -> None:
    """Every lost row of ``request`` takes ``msgid`` and turns ``sent``."""
    with transaction.atomic():
        found = list(
            Message.objects.filter(lost(now), request=request).values_list("pk", "requested_at")
        )
        if not found:
            return
        # Sent when it was claimed, as far as anyone can tell (as the database keeps it).
        submitted_at = found[0][1]
        ids = outcomes.land(
            outcomes.Outcome(
                [pk for pk, _ in found], Status.SENT, msgid=msgid, submitted_at=submitted_at
            )
        )
    if not ids:
        return
    done.requests += 1
    done.messages += len(ids)
    done.msgids.add(msgid)
    logger.warning(
        "the outcome of request %s was lost; a delivery report proves the gateway accepted "
        "it: its %d messages (ids %s) take msgid %r and turn sent",
        request,
        len(ids),
        ids[:20],
        msgid,
    )
