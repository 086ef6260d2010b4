"""Quiet hours and the daily marketing cap: marketing written at night is held until the
morning (and stopped by an opt-out meanwhile), and a number gets its marketing cap a
day."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import poll, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBER = "13800138000"


def beijing(hour, minute=0, day=26):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def marketing_rules(settings):
    """The defaults the tests settings turn off: quiet hours 21:00–08:00, a daily cap."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "QUIET_HOURS": ("21:00", "08:00"),
        "MARKETING_DAILY_CAP": 2,
    }


# ----------------------------------------------------------------------- quiet hours


def test_marketing_at_22_is_held_and_submitted_at_8(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(22), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing")
        assert row.status == S.QUEUED and not xunchen_outbox
        assert row.hold_until == beijing(8, day=27)
        assert send_queued()["claimed"] == 0
    with time_machine.travel(beijing(7, 59, day=27), tick=False):
        assert send_queued()["sent"] == 0
    with time_machine.travel(beijing(8, 0, day=27), tick=False):
        assert send_queued()["sent"] == 1
    assert xunchen_outbox[0].request.send_at is None, "held here, not at the gateway"
    notices = send_sms(NUMBER, "您的订单已发货")
    assert notices[0].status == S.SENT, "quiet hours are for marketing"


def test_an_opt_out_during_quiet_hours_stops_the_held_message(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(22), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing")
    with time_machine.travel(beijing(23), tick=False):
        locmem.queue_reply(NUMBER, "退订")
        poll(force=True)
    with time_machine.travel(beijing(8, 1, day=27), tick=False):
        assert send_queued()["sent"] == 0
    row.refresh_from_db()
    assert row.status == S.SUPPRESSED and not xunchen_outbox


def test_a_scheduled_marketing_time_inside_quiet_hours_is_held(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(12), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing", send_at=beijing(23))
        assert row.hold_until == beijing(8, day=27) and row.send_at is None


def test_the_daily_marketing_cap(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(10), tick=False):
        first = send_sms([NUMBER, "13900139000"], "新品一", kind="marketing")
        second = send_sms(NUMBER, "新品二", kind="marketing")
        third = send_sms([NUMBER, "13900139000"], "新品三", kind="marketing", fail_silently=True)
    assert [r.status for r in first + second] == [S.SENT] * 3
    assert [r.status for r in third] == [S.SUPPRESSED, S.SENT]
    with time_machine.travel(beijing(10, day=27), tick=False):
        assert send_sms(NUMBER, "新品四", kind="marketing")[0].status == S.SENT


def test_marketing_scheduled_for_tomorrow_counts_against_tomorrow_s_cap(
    marketing_rules, xunchen_outbox
):
    """The cap counts the day a message goes out, not the day it was written or handed
    to the gateway: one scheduled for tomorrow is tomorrow's."""
    with time_machine.travel(beijing(10), tick=False):
        (first,) = send_sms(NUMBER, "新品一", kind="marketing")
        (later,) = send_sms(NUMBER, "新品二", kind="marketing", send_at=beijing(10, day=27))
        (second,) = send_sms(NUMBER, "新品三", kind="marketing", send_at=beijing(11))
        (third,) = send_sms(NUMBER, "新品四", kind="marketing", fail_silently=True)
    assert (first.status, later.status, second.status) == (S.SENT,) * 3
    assert later.send_at == beijing(10, day=27)
    assert xunchen_outbox[1].request.send_at == beijing(10, day=27), "the gateway holds it"
    assert third.status == S.SUPPRESSED, "today's two are the first and the third"
    with time_machine.travel(beijing(9, day=27), tick=False):
        (fourth,) = send_sms(NUMBER, "新品五", kind="marketing")
        (fifth,) = send_sms(NUMBER, "新品六", kind="marketing", fail_silently=True)
    assert (fourth.status, fifth.status) == (S.SENT, S.SUPPRESSED), "the scheduled one counts"


def test_a_number_with_today_s_cap_full_may_be_scheduled_for_tomorrow(
    marketing_rules, xunchen_outbox
):
    with time_machine.travel(beijing(10), tick=False):
        send_sms(NUMBER, "新品一", kind="marketing")
        send_sms(NUMBER, "新品二", kind="marketing")
        (later,) = send_sms(NUMBER, "新品三", kind="marketing", send_at=beijing(10, day=27))
    assert later.status == S.SENT and len(xunchen_outbox) == 3


def test_marketing_held_overnight_counts_on_the_day_it_goes_out(marketing_rules, xunchen_outbox):
    """Written at 22:00 and held by quiet hours, it is one of the next day's messages,
    not the evening's, though nothing has submitted it yet."""
    with time_machine.travel(beijing(20), tick=False):
        send_sms(NUMBER, "新品一", kind="marketing")
        send_sms(NUMBER, "新品二", kind="marketing")
    with time_machine.travel(beijing(22), tick=False):
        (held,) = send_sms(NUMBER, "新品三", kind="marketing")
    assert held.status == S.QUEUED and held.hold_until == beijing(8, day=27)
    with time_machine.travel(beijing(9, day=27), tick=False):
        (second,) = send_sms(NUMBER, "新品四", kind="marketing")
        (third,) = send_sms(NUMBER, "新品五", kind="marketing", fail_silently=True)
    assert (second.status, third.status) == (S.SENT, S.SUPPRESSED)


def test_a_scheduled_time_after_quiet_hours_is_submitted_during_them(
    marketing_rules, xunchen_outbox
):
    """Quiet hours are judged at the time a message goes out: at 07:00, one the gateway
    holds until 09:00 goes to the gateway at once."""
    with time_machine.travel(beijing(7, day=27), tick=False):
        (row,) = send_sms(NUMBER, "新品", kind="marketing", send_at=beijing(9, day=27))
    assert (row.status, row.hold_until) == (S.SENT, None)
    assert xunchen_outbox[0].request.send_at == beijing(9, day=27)


def test_marketing_scheduled_at_the_very_start_of_tomorrow_is_tomorrow_s(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "MARKETING_DAILY_CAP": 1}
    with time_machine.travel(beijing(10), tick=False):
        send_sms(NUMBER, "新品一", kind="marketing")
        (midnight,) = send_sms(NUMBER, "新品二", kind="marketing", send_at=beijing(0, day=27))
        late, again = (
            send_sms(NUMBER, text, kind="marketing", send_at=at, fail_silently=True)[0]
            for text, at in (("新品三", beijing(23, 59)), ("新品四", beijing(0, day=27)))
        )
    assert midnight.status == S.SENT
    assert late.status == S.SUPPRESSED, "the 26th's one is the first"
    assert again.status == S.SUPPRESSED, "the 27th's one went at midnight"
    with time_machine.travel(beijing(10), tick=False):
        other = "13900139000"
        send_sms(other, "新品五", kind="marketing", send_at=beijing(0, day=27))
        (tonight,) = send_sms(other, "新品六", kind="marketing", send_at=beijing(23, 59))
    assert tonight.status == S.SENT, "midnight is the 27th's, not the 26th's"


def test_a_waiting_message_counts_on_the_day_it_is_due(settings, xunchen_outbox):
    """Held until midnight, a queued message is the 27th's; held until 23:59, the 26th's;
    scheduled for 09:00 but held (paused) until the 28th, or held until 09:00 and
    scheduled for the 28th, the 28th's."""
    settings.XUNCHEN = {**settings.XUNCHEN, "MARKETING_DAILY_CAP": 1}
    other, paused, later = "13900139000", "13700137000", "13600136000"
    for mobile, until, at in (
        (NUMBER, beijing(0, day=27), None),
        (other, beijing(23, 59), None),
        (paused, beijing(0, day=28), beijing(9)),
        (later, beijing(9), beijing(0, day=28)),
    ):
        Message.objects.create(
            mobile=mobile, content="已排队", kind="marketing", hold_until=until, send_at=at
        )
    with time_machine.travel(beijing(10), tick=False):
        statuses = [
            send_sms(mobile, "新品", kind="marketing", fail_silently=True)[0].status
            for mobile in (NUMBER, other, paused, later)
        ]
    assert statuses == [S.SENT, S.SUPPRESSED, S.SENT, S.SENT]


def test_a_message_scheduled_for_yesterday_and_sent_today_is_today_s(settings, xunchen_outbox):
    """Its time came while the gateway was down: it went out when it was submitted."""
    settings.XUNCHEN = {**settings.XUNCHEN, "MARKETING_DAILY_CAP": 1}
    Message.objects.create(
        mobile=NUMBER,
        content="迟到的",
        kind="marketing",
        status=S.SENT,
        send_at=beijing(10, day=25),
        requested_at=beijing(9),
        submitted_at=beijing(9),
    )
    with time_machine.travel(beijing(10), tick=False):
        (row,) = send_sms(NUMBER, "新品", kind="marketing", fail_silently=True)
    assert row.status == S.SUPPRESSED


def test_a_message_whose_time_passed_in_the_queue_is_judged_for_today(settings, xunchen_outbox):
    """Scheduled for yesterday and left queued (the gateway was down), it goes out when it
    is submitted: today's cap decides, and today's is full."""
    settings.XUNCHEN = {**settings.XUNCHEN, "MARKETING_DAILY_CAP": 1}
    Message.objects.create(
        mobile=NUMBER, content="今天的", kind="marketing", status=S.SENT, requested_at=beijing(9)
    )
    late = Message.objects.create(
        mobile=NUMBER, content="昨天的", kind="marketing", send_at=beijing(10, day=25)
    )
    with time_machine.travel(beijing(10), tick=False):
        send_queued()
    late.refresh_from_db()
    assert (late.status, xunchen_outbox) == (S.SUPPRESSED, [])
