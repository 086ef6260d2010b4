"""Pause, resume and cancel, each on what it leaves behind: the campaign's state and
times, each message's hold, text and time of change, what goes to the workers, and the
words of a refusal."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import campaigns
from django_xunchen.campaigns.lifecycle import CANCELLED_TEXT, PAUSED
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.models import Campaign, Message

from .test_lifecycle_edges import NOON, accounts, handed_to_workers, messages_of, stage, workers

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
State = Campaign.State
__all__ = ["accounts", "workers"]  # fixtures, found by pytest in this module's namespace


def confirmed(at, **fields):
    with time_machine.travel(at, tick=False):
        campaign = stage(**fields)
        campaigns.confirm(campaign)
    return Campaign.objects.get(pk=campaign.pk)


def at(moment, action, campaign):
    with time_machine.travel(moment, tick=False):
        return action(campaign)


@pytest.mark.parametrize(
    ("action", "verb"),
    [(campaigns.pause, "paused"), (campaigns.resume, "resumed"), (campaigns.cancel, "cancelled")],
)
def test_a_refusal_names_the_campaign_s_state(accounts, workers, action, verb):
    campaign = confirmed(NOON)
    campaigns.cancel(campaign)
    if action is campaigns.cancel:
        Campaign.objects.filter(pk=campaign.pk).update(state=State.DONE)
    state = Campaign.objects.get(pk=campaign.pk).get_state_display()
    with pytest.raises(CampaignError) as refused:
        action(campaign)
    assert str(refused.value) == f"A {state} campaign cannot be {verb}."


def test_a_pause_holds_the_messages_and_marks_when(accounts, workers):
    campaign = confirmed(NOON)
    later = NOON + dt.timedelta(minutes=5)
    assert at(later, campaigns.pause, campaign) == 3
    assert set(messages_of(campaign).values_list("status", "hold_until", "updated_at")) == {
        (S.QUEUED, PAUSED, later)
    }
    assert Campaign.objects.get(pk=campaign.pk).state == State.PAUSED


def test_resumed_before_its_time_a_campaign_waits_for_it_again(accounts, workers):
    send_at = NOON + dt.timedelta(hours=2)
    campaign = confirmed(NOON, send_at=send_at)
    at(NOON, campaigns.pause, campaign)
    resumed = NOON + dt.timedelta(hours=1)
    assert at(resumed, campaigns.resume, campaign) == 3
    campaign.refresh_from_db()
    assert (campaign.state, campaign.started_at) == (State.SCHEDULED, None)
    assert set(messages_of(campaign).values_list("status", "hold_until", "updated_at")) == {
        (S.QUEUED, send_at, resumed)
    }
    assert handed_to_workers() == [], "held messages are not handed to the workers"


def test_resumed_at_its_very_time_a_campaign_runs(accounts, workers):
    send_at = NOON + dt.timedelta(hours=2)
    campaign = confirmed(NOON, send_at=send_at)
    at(NOON, campaigns.pause, campaign)
    assert at(send_at, campaigns.resume, campaign) == 3
    campaign.refresh_from_db()
    assert (campaign.state, campaign.started_at) == (State.RUNNING, send_at)
    assert set(messages_of(campaign).values_list("hold_until", "updated_at")) == {(None, send_at)}
    assert handed_to_workers() == sorted(messages_of(campaign).values_list("pk", flat=True))


def test_resumed_inside_its_account_s_quiet_hours_a_campaign_waits_for_their_end(accounts, workers):
    """``marketing`` is quiet 21:00–08:00 China time; the default account never is."""
    fields = {"kind": "marketing", "account": "marketing", "content": "@1@您好 拒收请回复R"}
    campaign = confirmed(NOON, **fields)
    at(NOON, campaigns.pause, campaign)
    before = handed_to_workers()
    assert at(NOON.replace(hour=22), campaigns.resume, campaign) == 3
    morning = NOON.replace(hour=8) + dt.timedelta(days=1)
    assert set(messages_of(campaign).values_list("hold_until", flat=True)) == {morning}
    assert handed_to_workers() == before, "nothing more handed to the workers"


def test_a_cancel_says_why_on_each_message_and_when(accounts, workers):
    campaign = confirmed(NOON, send_at=NOON + dt.timedelta(hours=2))
    cancelled = NOON + dt.timedelta(minutes=7)
    assert at(cancelled, campaigns.cancel, campaign) == 3
    assert set(messages_of(campaign).values_list("status", "error_message", "updated_at")) == {
        (S.CANCELLED, CANCELLED_TEXT, cancelled)
    }
    campaign.refresh_from_db()
    assert (campaign.state, campaign.finished_at) == (State.CANCELLED, cancelled)


def test_a_campaign_cancelled_while_its_file_is_checked_lets_go_of_the_check(accounts):
    campaign = Campaign.objects.create(
        name="双十二",
        kind="notification",
        content="@1@您好",
        state=State.CHECKING,
        check_claim="worker-7",
        check_heartbeat=NOON,
    )
    assert at(NOON, campaigns.cancel, campaign) == 0
    campaign.refresh_from_db()
    assert (campaign.state, campaign.check_claim, campaign.check_heartbeat) == (
        State.CANCELLED,
        "",
        None,
    )
