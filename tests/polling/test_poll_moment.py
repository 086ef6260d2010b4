"""A poll of reports reads the clock once: the webhook event of a report matched at once
carries the moment its message moved, and the recovery of a lost request judges which
rows are lost at the moment the reports are stored with, not at a later reading."""

import datetime as dt
import uuid

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import poll
from django_xunchen.backends import locmem
from django_xunchen.models import Message, Report
from django_xunchen.outcomes import recovery

from .test_rematch_edges import (
    T0,
    SteppingClock,
    assert_events_at_the_moment_moved,
    listen_to_outcomes,
    sent,
)

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


def lost_row():
    """A row whose request's outcome was lost, claimed at T0."""
    return Message.objects.create(
        mobile="13800138000", content="x", status=S.UNKNOWN, request=uuid.uuid4(), requested_at=T0
    )


@pytest.fixture
def recovery_moments(monkeypatch):
    """The ``now`` each call of :func:`.recovery.recover` is given, in order."""
    given = []
    recover = recovery.recover

    def spy(reports, names, now=None):
        given.append(now)
        return recover(reports, names, now)

    monkeypatch.setattr(recovery, "recover", spy)
    return given


def test_the_event_of_a_report_matched_at_once_carries_the_moment_its_message_moved(
    on_locmem, monkeypatch
):
    delivered, undelivered = sent("13800138000", "m-1"), sent("13800138001", "m-2")
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        locmem.queue_report("13800138000", "m-1", "DELIVRD")
        locmem.queue_report("13800138001", "m-2", "MA:0006")
    listen_to_outcomes()
    monkeypatch.setattr(timezone, "now", SteppingClock(T0 + dt.timedelta(seconds=30)))
    assert poll(force=True, inbound=False).reports_matched == 2
    assert_events_at_the_moment_moved(delivered, undelivered)


def test_the_recovery_of_a_lost_request_judges_at_the_poll_s_moment(
    on_locmem, monkeypatch, recovery_moments
):
    lost = lost_row()
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        locmem.queue_report("13800138000", "found-1", "DELIVRD")
    monkeypatch.setattr(timezone, "now", SteppingClock(T0 + dt.timedelta(minutes=30)))
    assert poll(force=True, inbound=False).reports_matched == 1
    lost.refresh_from_db()
    assert (lost.msgid, lost.status) == ("found-1", S.DELIVERED)
    assert recovery_moments == [Report.objects.get().received_at]


def test_the_recovery_of_a_report_matched_later_judges_at_the_rematch_s_moment(
    on_locmem, monkeypatch, recovery_moments
):
    """The report comes while no row is lost (an orphan); the row's outcome is lost
    after; the next poll's rematch recovers it at the moment it matches the report."""
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        locmem.queue_report("13800138000", "found-1", "DELIVRD")
    with time_machine.travel(T0 + dt.timedelta(seconds=20), tick=False):
        assert poll(force=True, inbound=False).reports_matched == 0
    recovery_moments.clear()
    lost = lost_row()
    monkeypatch.setattr(timezone, "now", SteppingClock(T0 + dt.timedelta(minutes=30)))
    assert poll(force=True, inbound=False).rematched == 1
    lost.refresh_from_db()
    assert (lost.msgid, lost.status) == ("found-1", S.DELIVERED)
    assert recovery_moments == [Report.objects.get().matched_at]
