"""Confirm, pause, resume and cancel a campaign's send.

``_busy_is_an_answer`` is applied after each definition, not as a decorator: the mutation
run skips decorated functions (docs/testing.rst)."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import ParamSpec

from django.db import OperationalError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import policy
from ..client.validation import placeholders
from ..db import analyze_if_stale, is_locked, retry_when_locked, to_db_datetime
from ..exceptions import MonthlyCapError
from ..models import Campaign, CampaignRecipient, Message
from ..operations import rollup
from ..sending import admission
from ..sending.bulk import insert_messages
from ..sending.compose import clone_for
from ..tasks import can_defer, enqueue_send
from .advance import start
from .checking import discard
from .staging import Checker
from .text import CampaignError, check_campaign, text_of

State = Campaign.State


#: Messages built and written at a time by :func:`confirm`.
CONFIRM_BATCH = 10000
#: ``hold_until`` of a paused campaign's messages: never, until it is resumed.
PAUSED = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)
CANCELLED_TEXT = "The campaign was cancelled before this message was sent."


P = ParamSpec("P")


def _busy_is_an_answer(step: Callable[P, int]) -> Callable[P, int]:
    """``step`` run again while SQLite is locked by another writer (a worker sending the
    campaign); if it still is, a :class:`CampaignError` for staff, nothing changed (the
    step's writes are one transaction), never a server error."""
    retried = retry_when_locked()(step)

    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return retried(*args, **kwargs)
        except OperationalError as exc:
            if not is_locked(exc):
                raise
            raise CampaignError(
                _("The database is busy: nothing was changed. Try again in a moment.")
            ) from None

    run = functools.wraps(step)(run)

    return run


def confirm(campaign: Campaign) -> int:
    """Write the messages of a staged campaign and start it (or schedule it); returns
    how many. Runs in the background through :mod:`.tasks` when it is due. A campaign
    that would take its account over its ``MONTHLY_CAP`` is refused (a
    :class:`CampaignError`), nothing written: it stays a draft."""
    try:
        return _confirm(campaign)
    except MonthlyCapError as exc:
        raise CampaignError(_over_cap(campaign, exc)) from None


confirm = _busy_is_an_answer(confirm)


def _over_cap(campaign: Campaign, error: MonthlyCapError) -> str:
    """The refusal for staff: the cap, the month's spend before the campaign (its
    messages were rolled back), and what the campaign costs."""
    return _(
        "The campaign would take account %(account)s over its monthly spending cap of "
        "%(cap)s: it has spent %(spent)s this month, and the campaign costs up to "
        "%(cost)s. Nothing was written; the campaign is still a draft."
    ) % {
        "account": campaign.account,
        "cap": error.cap,
        "spent": policy.month_spend(campaign.account),
        "cost": policy.price_per_part(campaign.account) * campaign.total_parts,
    }


def _confirm(campaign: Campaign) -> int:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state == State.CHECKING:
            raise CampaignError(_("The file is still being checked."))
        if campaign.state != State.DRAFT:
            raise CampaignError(_("The campaign was already confirmed."))
        if not campaign.valid:
            raise CampaignError(_("The campaign has no valid rows."))
        check_campaign(campaign)
        now = timezone.now()
        later = campaign.send_at is not None and campaign.send_at > now
        created = 0
        for rows in _messages(campaign, later):
            insert_messages(rows)
            created += len(rows)
        analyze_if_stale(Message, created)
        CampaignRecipient.objects.filter(campaign=campaign, problem="").update(
            message=Subquery(
                Message.objects.filter(campaign=campaign, mobile=OuterRef("mobile")).values("pk")[
                    :1
                ]
            )
        )
        if later:
            campaign.state = State.SCHEDULED
        else:
            start(campaign, now)
        campaign.save(update_fields=["state", "started_at"])
        if not later:
            _enqueue(_queued(campaign).filter(hold_until__isnull=True))
    return created


def _messages(campaign: Campaign, later: bool) -> Iterator[list[Message]]:
    """The campaign's messages, unsaved, :data:`CONFIRM_BATCH` at a time (memory stays
    flat, whatever the size of the campaign)."""
    body = text_of(campaign)
    checker = Checker(campaign, body, placeholders(body), [])
    hold = campaign.send_at if later else None
    hold = admission.hold(campaign.kind, campaign.account, hold or timezone.now()) or hold
    recipients = (
        campaign.recipients.filter(problem="")
        .order_by("row")
        .values_list("mobile", "params")
        .iterator(chunk_size=CONFIRM_BATCH)
    )
    fixed_text = checker.render({}) if not checker.needed else None
    fixed_parts = checker.count_parts(fixed_text) if fixed_text is not None else None
    spent: dict[str, Decimal] = {}  # the month's spend, then each batch admitted added
    while chunk := list(itertools.islice(recipients, CONFIRM_BATCH)):
        prototype = Message(
            mobile=chunk[0][0],
            content=fixed_text if fixed_text is not None else "",
            template=campaign.template,
            kind=campaign.kind,
            account=campaign.account,
            campaign=campaign,
            hold_until=to_db_datetime(hold),
            parts=fixed_parts or 1,
            tags=[f"campaign:{campaign.pk}"],
            metadata={"campaign": campaign.pk},
        )
        rows = clone_for(prototype, [mobile for mobile, _ in chunk])
        if fixed_text is None:
            for row, (_mobile, params) in zip(rows, chunk, strict=True):
                row.content = checker.render(params)
                if campaign.template_id:
                    row.params = {str(n): params[str(n)] for n in checker.needed}
                row.parts = checker.count_parts(row.content)
        admission.screen(rows)
        admission.check_monthly_cap(rows, spent)
        yield rows


def _enqueue(messages: QuerySet[Message]) -> None:
    """Hand ``messages`` to the task engine after the commit, when it runs tasks in
    workers. Never are they sent in this process, which may be a web request: without
    a task engine that defers (none installed, or Django's ImmediateBackend), they stay
    ``queued`` for ``send_queued`` (cron) or the tick."""
    if can_defer():
        enqueue_send(list(messages.only("pk", "kind", "status")))


def _queued(campaign: Campaign):
    return Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)


def pause(campaign: Campaign) -> int:
    """Hold the messages not yet claimed; returns how many were held."""
    with transaction.atomic():
        campaign = _locked(
            campaign, (State.SCHEDULED, State.RUNNING), _("A %(state)s campaign cannot be paused.")
        )
        held = _queued(campaign).update(
            hold_until=to_db_datetime(PAUSED), updated_at=timezone.now()
        )
        campaign.state = State.PAUSED
        campaign.save(update_fields=["state"])
    return held


pause = _busy_is_an_answer(pause)


def resume(campaign: Campaign) -> int:
    """Release a paused campaign's messages (held again until ``send_at`` if that is
    still ahead) and hand them to background sending; returns how many."""
    with transaction.atomic():
        campaign = _locked(campaign, (State.PAUSED,), _("A %(state)s campaign cannot be resumed."))
        now = timezone.now()
        later = campaign.send_at is not None and campaign.send_at > now
        hold = campaign.send_at if later else None
        hold = admission.hold(campaign.kind, campaign.account, hold or now) or hold
        queued = _queued(campaign)
        count = queued.update(hold_until=to_db_datetime(hold), updated_at=now)
        if later:
            campaign.state = State.SCHEDULED
        else:
            start(campaign, now)
        campaign.save(update_fields=["state", "started_at"])
        if hold is None and count:
            _enqueue(queued)
    return count


resume = _busy_is_an_answer(resume)


def cancel(campaign: Campaign) -> int:
    """Cancel the messages not yet claimed (they end ``cancelled``); returns how many.
    A request already under way finishes; nothing else goes out. A campaign whose file
    is being checked stops there: the rows the check stored and the file are deleted."""
    with transaction.atomic():
        campaign = _locked(
            campaign,
            (State.CHECKING, State.DRAFT, State.SCHEDULED, State.RUNNING, State.PAUSED),
            _("A %(state)s campaign cannot be cancelled."),
        )
        if campaign.state == State.CHECKING:
            discard(campaign.pk)
            campaign.check_claim, campaign.check_heartbeat = "", None
        now = timezone.now()
        rollup.touched_where(_queued(campaign))
        count = _queued(campaign).update(
            status=Message.Status.CANCELLED, error_message=CANCELLED_TEXT, updated_at=now
        )
        campaign.state, campaign.finished_at = State.CANCELLED, now
        campaign.save(update_fields=["state", "finished_at", "check_claim", "check_heartbeat"])
    return count


cancel = _busy_is_an_answer(cancel)


def _locked(campaign: Campaign, states: tuple[str, ...], refusal: str) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.state not in states:
        raise CampaignError(refusal % {"state": locked.get_state_display()})
    return locked
