"""Campaigns move by themselves: whichever of ``send_queued``, the tick, the poll and a
send task runs next starts a scheduled campaign whose time came and finishes one with
nothing left to send, once, with its signal; confirming in a web request sends nothing;
and a page that shows a campaign writes nothing."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import campaigns, poll, send_queued, signals
from django_xunchen.campaigns.advance import advance
from django_xunchen.models import Campaign, Message

from .test_campaigns import DUMMY_TASKS, block_django_tasks, gbk_file, make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def moves():
    """Each campaign signal sent, as (name, campaign id, state then)."""
    received = []

    def listen(name):
        def handler(sender, campaign, **kwargs):
            received.append((name, campaign.pk, campaign.state))

        return handler

    handlers = {name: listen(name) for name in ("campaign_started", "campaign_finished")}
    for name, handler in handlers.items():
        getattr(signals, name).connect(handler, weak=False)
    yield received
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def confirmed(**fields):
    campaign = campaigns.stage(make(**fields), gbk_file(), "a.csv")
    campaigns.confirm(campaign)
    return Campaign.objects.get(pk=campaign.pk)


def run_tick():
    """The tick leaves rows to their send task for ORPHANED_AFTER (60 s): a task was lost."""
    from django_xunchen.tasks import tick

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=60 + 1)):
        tick.call()


def run_send_task():
    from django_xunchen.tasks import send_messages

    send_messages.call(list(Message.objects.values_list("pk", flat=True)))


PATHS = {"send_queued": send_queued, "tick": run_tick, "send task": run_send_task}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_each_path_that_sends_finishes_the_campaign_once(path, settings, moves, xunchen_outbox):
    settings.TASKS = DUMMY_TASKS
    campaign = confirmed()
    assert campaign.state == "running" and not xunchen_outbox
    assert moves == [("campaign_started", campaign.pk, "running")]
    path()
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 3
    campaign.refresh_from_db()
    assert campaign.state == "done" and campaign.finished_at is not None
    send_queued(), advance()
    assert moves[1:] == [("campaign_finished", campaign.pk, "done")], "once"


def test_the_poll_finishes_a_campaign_whose_last_message_went_elsewhere(moves, xunchen_outbox):
    campaign = confirmed()
    Message.objects.update(status=Message.Status.SENT)  # sent by a process that then died
    assert Campaign.objects.get().state == "running"
    poll(force=True)
    assert Campaign.objects.get().state == "done"
    assert [name for name, *_ in moves] == ["campaign_started", "campaign_finished"]
    assert campaign.pk == moves[-1][1]


@pytest.mark.parametrize(
    "path", [send_queued, poll, advance], ids=["send_queued", "poll", "advance"]
)
def test_a_scheduled_campaign_starts_when_its_time_comes(path, settings, moves, xunchen_outbox):
    settings.TASKS = DUMMY_TASKS
    send_at = timezone.now() + dt.timedelta(minutes=5)
    campaign = confirmed(send_at=send_at)
    assert campaign.state == "scheduled" and moves == []
    advance()
    assert Campaign.objects.get().state == "scheduled", "not before its time"
    with time_machine.travel(send_at + dt.timedelta(seconds=1)):
        path()
    campaign.refresh_from_db()
    assert campaign.started_at is not None
    assert moves[0] == ("campaign_started", campaign.pk, "running")
    sent = sum(len(s.mobiles) for s in xunchen_outbox)
    assert campaign.state == ("done" if sent else "running")


def test_a_paused_campaign_stays_and_a_cancelled_one_never_finishes(settings, moves):
    settings.TASKS = DUMMY_TASKS
    paused, cancelled = confirmed(), confirmed(name="另一个")
    campaigns.pause(paused)
    campaigns.cancel(cancelled)
    advance()
    assert dict(Campaign.objects.values_list("pk", "state")) == {
        paused.pk: "paused",
        cancelled.pk: "cancelled",
    }
    campaigns.resume(paused)
    assert [name for name, *_ in moves] == ["campaign_started", "campaign_started"], (
        "resumed after it had started: no second start"
    )


def test_a_campaign_paused_or_cancelled_before_its_time_stays_so_when_it_comes(
    settings, moves, xunchen_outbox
):
    settings.TASKS = DUMMY_TASKS
    send_at = timezone.now() + dt.timedelta(minutes=5)
    paused, cancelled = confirmed(send_at=send_at), confirmed(name="另一个", send_at=send_at)
    campaigns.pause(paused)
    campaigns.cancel(cancelled)
    with time_machine.travel(send_at + dt.timedelta(seconds=1)):
        advance()
        send_queued()
    assert dict(Campaign.objects.values_list("pk", "state")) == {
        paused.pk: "paused",
        cancelled.pk: "cancelled",
    }
    assert moves == [] and not xunchen_outbox


def test_only_the_campaign_whose_time_came_starts(settings, moves):
    settings.TASKS = DUMMY_TASKS
    now = timezone.now()
    soon = confirmed(send_at=now + dt.timedelta(minutes=5))
    later = confirmed(name="另一个", send_at=now + dt.timedelta(hours=2))
    with time_machine.travel(now + dt.timedelta(minutes=6)):
        advance()
    assert Campaign.objects.get(pk=soon.pk).state == "running"
    assert Campaign.objects.get(pk=later.pk).state == "scheduled"
    assert moves == [("campaign_started", soon.pk, "running")]


def test_a_campaign_with_nothing_left_finishes_while_another_s_messages_wait(
    settings, moves, xunchen_outbox
):
    settings.TASKS = DUMMY_TASKS
    sent, waiting = confirmed(), confirmed(name="另一个")
    campaigns.pause(waiting)
    send_queued()
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 3
    assert dict(Campaign.objects.values_list("pk", "state")) == {
        sent.pk: "done",
        waiting.pk: "paused",
    }
    assert ("campaign_finished", sent.pk, "done") in moves


def test_two_processes_advancing_at_once_move_a_campaign_once(moves, monkeypatch):
    """The second process found the campaign running, as the first did, but the first
    moved it in between: its conditional UPDATE changes nothing."""
    campaign = confirmed()
    Message.objects.update(status=Message.Status.SENT)
    from django_xunchen.campaigns import advance as module

    real = module._move

    def racing(candidates, *args):
        stale = [(pk, state) for pk, state in candidates.values_list("pk", "state")]
        moved = real(candidates, *args)

        class Stale:
            def values_list(self, *names):
                return stale

        return moved + real(Stale(), *args)

    monkeypatch.setattr(module, "_move", racing)
    assert advance() == {"started": 0, "finished": 1}
    assert [name for name, *_ in moves] == ["campaign_started", "campaign_finished"]
    assert Campaign.objects.get(pk=campaign.pk).state == "done"


@pytest.mark.parametrize("engine", ["immediate", "none"])
def test_confirming_in_the_admin_sends_nothing_in_the_request(
    engine, admin_client, monkeypatch, xunchen_outbox
):
    """Without workers (Django's ImmediateBackend, or no task framework) the rows wait
    for send_queued or the tick, whatever the size of the campaign."""
    if engine == "none":
        block_django_tasks(monkeypatch)
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    url = reverse("admin:django_xunchen_campaign_step", args=[campaign.pk, "confirm"])
    response = admin_client.post(url)
    assert response.status_code == 302
    assert not xunchen_outbox
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}
    assert send_queued()["sent"] == 3
    assert Campaign.objects.get().state == "done"


@pytest.mark.parametrize("name", ["progress", "change"])
def test_looking_at_a_campaign_writes_nothing(name, admin_client, settings):
    settings.TASKS = DUMMY_TASKS
    due = confirmed(send_at=timezone.now() + dt.timedelta(minutes=5))
    idle = confirmed(name="已发完")
    Message.objects.filter(campaign=idle).update(status=Message.Status.DELIVERED)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        for campaign in (due, idle):
            url = reverse(f"admin:django_xunchen_campaign_{name}", args=[campaign.pk])
            with CaptureQueriesContext(connection) as queries:
                assert admin_client.get(url).status_code == 200
            writes = [
                q["sql"]
                for q in queries
                if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
                and "django_session" not in q["sql"]
            ]
            assert writes == []
    assert dict(Campaign.objects.values_list("name", "state")) == {
        "双十一": "scheduled",
        "已发完": "running",
    }, "a look moves nothing"
