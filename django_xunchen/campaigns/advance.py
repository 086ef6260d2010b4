"""Campaigns move through their states by themselves: a scheduled campaign starts when
its time comes, a running one is done once nothing of it waits to be sent.

:func:`advance` is the one place this happens. ``send_queued`` (so cron and the tick),
the poll and each background send task call it; a page that shows a campaign only reads.
Each move is a conditional UPDATE, so that two processes advancing at once move a
campaign, and send its signal, once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from .. import signals
from ..models import Campaign, EventType, Message
from ..webhooks import events as webhook_events

State = Campaign.State
#: The webhook event of a move to each state.
WEBHOOK_EVENTS = {State.DONE: EventType.CAMPAIGN_FINISHED}
#: Message statuses that keep a running campaign running.
WAITING = (Message.Status.QUEUED, Message.Status.SENDING)


def advance(now: dt.datetime | None = None) -> dict[str, int]:
    """Start the scheduled campaigns whose ``send_at`` has come and finish the running
    ones with no message queued or sending; ``campaign_started`` and
    ``campaign_finished`` go out after the commit. Returns how many of each."""
    now = now or timezone.now()
    due = Campaign.objects.filter(state=State.SCHEDULED, send_at__lte=now)
    started = _move(due, State.RUNNING, {"started_at": now}, signals.campaign_started)
    waiting = Message.objects.filter(campaign=OuterRef("pk"), status__in=WAITING)
    idle = Campaign.objects.filter(state=State.RUNNING).exclude(Exists(waiting))
    finished = _move(idle, State.DONE, {"finished_at": now}, signals.campaign_finished)
    return {"started": started, "finished": finished}


def start(campaign: Campaign, now: dt.datetime) -> None:
    """Make a campaign locked by the caller's transaction ``running`` (a confirm to send
    now, a resume); ``campaign_started`` goes out after the commit if it never ran."""
    first = campaign.started_at is None
    campaign.state = State.RUNNING
    campaign.started_at = campaign.started_at or now
    if first:
        signals.send_on_commit([(signals.campaign_started, Campaign, {"campaign": campaign})])


def _move(candidates: QuerySet[Campaign], to: str, values: dict[str, Any], signal: Signal) -> int:
    moved = []
    event = WEBHOOK_EVENTS.get(to)
    for pk, state in candidates.values_list("pk", "state"):
        with transaction.atomic():
            if Campaign.objects.filter(pk=pk, state=state).update(state=to, **values):
                moved.append(pk)
                if event:
                    webhook_events.record(event, [pk])
    if moved:
        events = [
            (signal, Campaign, {"campaign": campaign})
            for campaign in Campaign.objects.filter(pk__in=moved).order_by("pk")
        ]
        signals.send_on_commit(events)
    return len(moved)
