"""A staged campaign's estimate, preview, problem rows and progress."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count

from .. import policy
from ..api import get_balance
from ..client.validation import placeholders
from ..conf import xunchen_settings
from ..models import Campaign, CampaignRecipient, Message
from .staging import Checker
from .text import text_of

State = Campaign.State


@dataclass
class Estimate:
    rows: int
    valid: int
    problems: int
    parts: int
    cost: Decimal
    balance: Decimal | None
    balance_error: str = ""

    # A property only calls a method: the mutation run skips decorated functions.
    @property
    def balance_after(self) -> Decimal | None:
        return self._balance_after()

    def _balance_after(self) -> Decimal | None:
        return None if self.balance is None else self.balance - self.cost


def estimate(campaign: Campaign, *, with_balance: bool = True) -> Estimate:
    """The valid rows, their parts (each row's own text), the cost, and the balance."""
    cost = policy.price_per_part(campaign.account) * campaign.total_parts
    balance, error = None, ""
    if with_balance:
        try:
            balance = get_balance(account=campaign.account).amount
            balance -= policy.queued_cost(campaign.account)
        except Exception as exc:  # any gateway or network fault: shown, not raised
            error = str(exc)
    return Estimate(
        campaign.rows,
        campaign.valid,
        campaign.rows - campaign.valid,
        campaign.total_parts,
        cost,
        balance,
        error,
    )


def preview(campaign: Campaign, count: int = 5) -> list[tuple[CampaignRecipient, str]]:
    """The first valid rows with the text each handset will show, signature included."""
    body = text_of(campaign)
    checker = Checker(campaign, body, placeholders(body), [])
    signature = xunchen_settings(campaign.account)["SIGNATURE"] or ""
    rows = campaign.recipients.filter(problem="").order_by("row")[:count]
    return [(r, signature + checker.render(r.params)) for r in rows]


def problems(campaign: Campaign) -> Iterable[CampaignRecipient]:
    return campaign.recipients.exclude(problem="").order_by("row")


def progress(campaign: Campaign) -> dict[str, Any]:
    """Its messages by status, and its state as stored (:mod:`.advance` moves it, never
    a look at it). ``check``: how far the check of its file has come (rows checked of
    the file's rows). Reads; never writes."""
    counts = dict(
        Message.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    total = sum(counts.values())
    waiting = counts.get(Message.Status.QUEUED, 0) + counts.get(Message.Status.SENDING, 0)
    done = total - waiting
    return {
        "state": campaign.state,
        "state_label": str(campaign.get_state_display()),
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "counts": {status: counts.get(status, 0) for status in Message.Status.values},
        "check": check_progress(campaign),
    }


def check_progress(campaign: Campaign) -> dict[str, Any]:
    """The check of the campaign's file: rows checked, the file's rows, the percentage,
    and why the file was refused (empty when it was not). Reads; never writes."""
    checked, total = campaign.checked_rows, campaign.file_rows
    return {
        "done": checked,
        "total": total,
        "percent": min(100, round(100 * checked / total)) if total else 0,
        "error": campaign.check_error,
    }
