"""``send_queued``: dispatch the rows that are due, for the command, the tick and the task."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from ..campaigns.advance import advance
from ..conf import account_names
from ..models import Message
from ..operations import rollup
from ..outcomes import write as outcomes
from ..webhooks import events as webhook_events
from .claim import stale_after
from .submit import Backends, dispatch

Status = Message.Status


def send_queued(
    *, limit: int = 10000, backend: str | None = None, idle_for: float | None = None
) -> dict[str, int]:
    """Send what is waiting: rows left ``queued`` by a failed or interrupted send.

    ``idle_for`` (seconds) leaves alone the rows written or retried more recently than
    that, unless they were held and are now due: the background tick passes it, so that
    rows whose send task is on its way are sent by that task, spread over the workers.

    Also applies this host's spooled outcomes, marks expired rows ``expired`` and rows
    stuck in ``sending`` (their process died mid-request) ``unknown``, and moves the
    campaigns whose time has come or whose last message went
    (:func:`~django_xunchen.campaigns.advance.advance`).
    Safe to run from several processes at once: each row is claimed by exactly one, and
    ``sent`` counts what this call sent.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    if idle_for is not None and (
        isinstance(idle_for, bool) or not isinstance(idle_for, (int, float)) or idle_for < 0
    ):
        raise ValueError(f"idle_for must be a number of seconds, not {idle_for!r}")
    backends = Backends(backend)
    spooled = outcomes.apply_spool()
    now = timezone.now()
    expiring = Message.objects.filter(status=Status.QUEUED, expires_at__lte=now)
    rollup.touched_where(expiring)
    expired = expiring.update(status=Status.EXPIRED, updated_at=now)
    stuck = Message.objects.filter(status=Status.SENDING, updated_at__lt=now - stale_after())
    rollup.touched_where(stuck)
    stale = webhook_events.update_messages(
        stuck,
        Status.UNKNOWN,
        claim=None,
        updated_at=now,
        error_message="The sending process stopped before it recorded the outcome.",
    )
    waiting = Message.objects.filter(status=Status.QUEUED, account__in=account_names())
    if idle_for is None:
        waiting = waiting.filter(Q(hold_until__isnull=True) | Q(hold_until__lte=now))
    else:
        idle_since = now - dt.timedelta(seconds=idle_for)
        waiting = waiting.filter(
            Q(hold_until__isnull=True, updated_at__lte=idle_since) | Q(hold_until__lte=now)
        )
    rows = list(waiting.select_related("template").order_by("created_at", "pk")[:limit])
    outcome = dispatch(rows, backends)
    moved = advance()
    return {
        "expired": expired,
        "stale": stale,
        "spooled": spooled,
        "claimed": len(rows),
        "sent": outcome.sent,
        "requests": outcome.requests,
        "campaigns_started": moved["started"],
        "campaigns_finished": moved["finished"],
    }
