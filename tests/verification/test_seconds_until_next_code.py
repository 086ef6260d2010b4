"""seconds_until_next_code(): which past requests it counts (sent, not lifted, each in
its own window: the cooldown, the hour, the day) and the exact wait it tells, to the
second, for the daily limit."""

import datetime as dt

import pytest
import time_machine

from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import ThrottleEvent
from django_xunchen.verification import seconds_until_next_code

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=CHINA_TZ)
SENT, THROTTLED = ThrottleEvent.Outcome.SENT, ThrottleEvent.Outcome.THROTTLED


def requested(ago, *, outcome=SENT, lifted=False):
    """A past request for a code to NUMBER, ``ago`` before noon."""
    ThrottleEvent.objects.create(
        mobile=NUMBER,
        prefix=NUMBER[:7],
        purpose="login",
        outcome=outcome,
        reason="" if outcome == SENT else "cooldown",
        lifted=lifted,
        at=NOON - ago,
    )


@pytest.mark.parametrize(
    ("outcome", "lifted", "wait"),
    [(SENT, False, 50), (THROTTLED, False, 0), (SENT, True, 0)],
    ids=["sent", "throttled", "lifted"],
)
def test_only_a_sent_request_not_lifted_starts_the_cooldown(limits, outcome, lifted, wait):
    limits(COOLDOWN=60)
    requested(dt.timedelta(seconds=10), outcome=outcome, lifted=lifted)
    with time_machine.travel(NOON, tick=False):
        assert seconds_until_next_code(NUMBER) == wait


@pytest.mark.parametrize(
    ("limit", "ago", "wait"),
    [
        ({"PER_HOUR": 1}, dt.timedelta(minutes=59), 60),
        ({"PER_HOUR": 1}, dt.timedelta(minutes=61), 0),
        ({"PER_DAY": 1}, dt.timedelta(hours=23), 3600),
        ({"PER_DAY": 1}, dt.timedelta(hours=24, seconds=1), 0),
    ],
    ids=["hour-inside", "hour-past", "day-inside", "day-past"],
)
def test_a_request_counts_against_a_limit_within_its_window_only(limits, limit, ago, wait):
    limits(**limit)
    requested(ago)
    with time_machine.travel(NOON, tick=False):
        assert seconds_until_next_code(NUMBER) == wait


def test_the_daily_limit_is_reached_at_its_count_and_waits_for_the_oldest_to_age(limits):
    """PER_DAY of 2: one request an hour and more ago leaves the number free; a second
    one reaches the limit, until the older of the two is a day old, to the second."""
    limits(PER_DAY=2)
    requested(dt.timedelta(hours=3))
    with time_machine.travel(NOON, tick=False):
        assert seconds_until_next_code(NUMBER) == 0
    requested(dt.timedelta(hours=2))
    with time_machine.travel(NOON, tick=False):
        assert seconds_until_next_code(NUMBER) == 21 * 3600
