"""The quiet hours window itself (policy/quiet_hours.py): its edges, minutes, a window
across midnight and one within a day, China time whatever the zone asked in."""

import datetime as dt

import pytest

from django_xunchen.client.types import CHINA_TZ
from django_xunchen.policy.quiet_hours import quiet_until

UTC = dt.timezone.utc


def china(hour, minute=0, day=26):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def window(settings):
    def use(start, end):
        settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": (start, end)}

    return use


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (china(21, 29), None),
        (china(21, 30), china(8, 15, day=27)),
        (china(23, 59), china(8, 15, day=27)),
        (china(0, 0), china(8, 15)),
        (china(8, 14), china(8, 15)),
        (china(8, 15), None),
        (china(12, 0), None),
    ],
)
def test_a_window_across_midnight(window, at, until):
    window("21:30", "08:15")
    assert quiet_until(at, "default") == until


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (china(11, 59), None),
        (china(12, 0), china(14, 0)),
        (china(13, 30), china(14, 0)),
        (china(14, 0), None),
        (china(23, 0), None),
    ],
)
def test_a_window_within_a_day(window, at, until):
    window("12:00", "14:00")
    assert quiet_until(at, "default") == until


def test_the_window_is_china_time_whatever_zone_the_moment_is_given_in(window):
    window("21:30", "08:15")
    assert quiet_until(dt.datetime(2026, 11, 26, 13, 30, tzinfo=UTC), "default") == china(
        8, 15, day=27
    )
    assert quiet_until(dt.datetime(2026, 11, 26, 0, 14, tzinfo=UTC), "default") == china(8, 15)
    assert quiet_until(dt.datetime(2026, 11, 26, 0, 15, tzinfo=UTC), "default") is None


@pytest.mark.parametrize("at", [china(9, 0), china(3, 0), china(20, 0)])
def test_a_window_that_ends_where_it_starts_is_never_quiet(window, at):
    window("09:00", "09:00")
    assert quiet_until(at, "default") is None


def test_no_window_is_never_quiet(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": None}
    assert quiet_until(china(23, 0), "default") is None


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_the_window_is_china_time_on_a_site_elsewhere(window, settings, zone):
    settings.TIME_ZONE = zone
    window("21:30", "08:15")
    assert quiet_until(china(21, 30), "default") == china(8, 15, day=27)
    assert quiet_until(china(8, 15), "default") is None
