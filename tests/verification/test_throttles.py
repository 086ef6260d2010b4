"""The code throttles against bombing and pumping: the resend cooldown, per number per
hour and per day, per IP (and the client IP behind a trusted proxy), a prefix surge,
the daily volume alarm, each window to the second across the gateway's midnight, the
exact wait told to the caller, and staff lifting a number's throttle."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message, ThrottleBucket, ThrottleEvent, VerificationCode
from django_xunchen.verification.codes import (
    RequestStatus,
    client_ip,
    request_code,
)
from django_xunchen.verification.throttles import lift_throttles

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
#: Ten minutes after the gateway's midnight (China Standard Time).
AFTER_MIDNIGHT = dt.datetime(2026, 11, 20, 0, 10, tzinfo=CHINA_TZ)
#: Noon, far from midnight.
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=CHINA_TZ)
SENT, THROTTLED = ThrottleEvent.Outcome.SENT, ThrottleEvent.Outcome.THROTTLED


def test_the_resend_cooldown(xunchen_outbox, signals):
    assert request_code(NUMBER).sent
    again = request_code(NUMBER, "reset")
    assert (again.status, again.reason) == (RequestStatus.THROTTLED, "cooldown")
    assert 55 <= again.retry_after <= 60
    assert len(xunchen_outbox) == 1
    assert signals[-1][0] == "code_throttled" and signals[-1][1]["reason"] == "cooldown"


def test_per_hour_and_per_day_per_number(codes, xunchen_outbox):
    results = [request_code(NUMBER, purpose) for purpose in ["login", "signup", "reset"] * 2]
    assert [r.status for r in results] == [RequestStatus.SENT] * 5 + [RequestStatus.THROTTLED]
    assert results[-1].reason == "hourly" and results[-1].retry_after > 3000
    ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(hours=2))
    more = [request_code(NUMBER) for _ in range(6)]
    assert [r.status for r in more].count(RequestStatus.SENT) == 5
    assert more[-1].reason == "daily"
    assert len(xunchen_outbox) == 10


def test_per_ip(codes, xunchen_outbox):
    codes(COOLDOWN=0, IP_PER_HOUR=3)
    results = [request_code(f"1380013800{i}", ip="198.51.100.4") for i in range(4)]
    assert [r.reason for r in results] == ["", "", "", "ip"]
    assert request_code("13800138009", ip="198.51.100.5").sent


def test_a_prefix_surge_blocks_the_prefix_for_a_while(codes, xunchen_outbox):
    codes(COOLDOWN=0, PREFIX_LIMIT=3, PREFIX_WINDOW=600, PREFIX_BLOCK=1800)
    results = [request_code(f"1380013800{i}") for i in range(4)]
    assert [r.reason for r in results] == ["", "", "", "prefix"]
    assert results[-1].retry_after == 1800
    ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(hours=1))
    blocked = request_code("13800138009")
    assert blocked.reason == "prefix" and 1790 <= blocked.retry_after <= 1800
    assert request_code("13900139000").sent, "other prefixes are not blocked"


def test_the_daily_volume_alarm_alerts_and_blocks_only_when_asked(
    codes, xunchen_outbox, signals, caplog
):
    codes(COOLDOWN=0, DAILY_ALARM=2)
    for i in range(3):
        assert request_code(f"1380013800{i}").sent
    alarms = [kw for name, kw in signals if name == "code_volume_alarm"]
    assert alarms == [{"volume": 2, "threshold": 2}]
    assert any("SMS pumping" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    codes(COOLDOWN=0, DAILY_ALARM=2, DAILY_BLOCK=True)
    blocked = request_code("13800138005")
    assert blocked.reason == "volume" and blocked.retry_after > 0
    assert len(xunchen_outbox) == 3


def test_staff_can_lift_a_number_s_throttle(xunchen_outbox):
    request_code(NUMBER)
    assert request_code(NUMBER).reason == "cooldown"
    assert lift_throttles([NUMBER]) == 1
    assert request_code(NUMBER).sent


def test_the_client_ip_behind_a_trusted_proxy(settings, rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2"
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {"TRUSTED_PROXY_HEADER": "HTTP_X_FORWARDED_FOR", "TRUSTED_PROXY_HOPS": 1},
    }
    assert client_ip(request) == "203.0.113.9", "read from the right: the client wrote 6.6.6.6"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 2
    assert client_ip(request) == "6.6.6.6"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 3
    assert client_ip(request) == "10.0.0.2"


def past(seconds, mobile=NUMBER, ip=None, outcome=SENT, now=None):
    """A request made ``seconds`` before ``now``."""
    at = (now or timezone.now()) - dt.timedelta(seconds=seconds)
    return ThrottleEvent.objects.create(
        mobile=mobile, prefix=mobile[:7], ip=ip, purpose="login", outcome=outcome, at=at
    )


def asked(**kwargs):
    result = request_code(NUMBER, **kwargs)
    return (result.status, result.reason, result.retry_after)


# ------------------------------------------------------------------ windows, to the second


@time_machine.travel(NOON, tick=False)
def test_per_hour_counts_the_last_hour_and_waits_for_its_oldest(limits):
    limits(PER_HOUR=2)
    past(3601), past(100)
    assert asked()[0] == RequestStatus.SENT, "an hour and a second ago no longer counts"
    ThrottleEvent.objects.all().delete()
    past(3000), past(1000, outcome=THROTTLED), past(100)
    assert asked() == (RequestStatus.THROTTLED, "hourly", 600), "refusals do not count"


@time_machine.travel(NOON, tick=False)
def test_per_day_counts_the_last_day_and_waits_for_its_oldest(limits):
    limits(PER_DAY=2)
    past(86401), past(7200)
    assert asked()[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(86000), past(7200)
    past(60, mobile="13900139000")  # another number's request is not mine
    assert asked() == (RequestStatus.THROTTLED, "daily", 400)


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_per_day_and_per_hour_reach_back_across_the_gateway_s_midnight(limits):
    limits(PER_DAY=2)
    past(5 * 3600), past(2 * 3600)
    assert asked() == (RequestStatus.THROTTLED, "daily", 86400 - 5 * 3600)


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_per_ip_counts_the_last_hour_of_that_ip_only(limits):
    limits(IP_PER_HOUR=2)
    ip = "198.51.100.4"
    past(3601, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    past(60, mobile="13900000003", ip="198.51.100.5"), past(60, mobile="13900000004")
    assert asked(ip=ip)[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(3000, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    assert asked(ip=ip) == (RequestStatus.THROTTLED, "ip", 600), "across midnight too"


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_a_prefix_counts_its_window_only_and_other_prefixes_not_at_all(limits):
    limits(PREFIX_LIMIT=2, PREFIX_WINDOW=900, PREFIX_BLOCK=1800)
    past(901, mobile="13800130001"), past(100, mobile="13800130002")
    past(60, mobile="13900130003"), past(60, mobile="13700130004")
    assert asked()[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(800, mobile="13800130001"), past(100, mobile="13800130002")
    assert asked() == (RequestStatus.THROTTLED, "prefix", 1800), "across midnight too"


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_the_daily_volume_is_today_s_on_the_gateway_s_clock(limits, heard):
    limits(DAILY_ALARM=2, DAILY_BLOCK=True)
    past(1200), past(1800)  # yesterday, on the gateway's clock
    assert asked()[0] == RequestStatus.SENT
    assert not [h for h in heard if h[0] == "code_volume_alarm"]
    past(60, mobile="13900000003")
    assert asked(ip="203.0.113.1") == (RequestStatus.THROTTLED, "volume", 86400 - 600)
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_volume_alarm"]
    assert sender is VerificationCode and kwargs == {"volume": 2, "threshold": 2}


@time_machine.travel(NOON, tick=False)
def test_a_throttle_whose_events_are_fewer_than_its_limit_says_one_second(limits):
    """The cooldown counts any request in the last minute; were the oldest already
    gone, the wait would be one second, never zero."""
    limits(COOLDOWN=60)
    past(30)
    assert asked() == (RequestStatus.THROTTLED, "cooldown", 30)


# ------------------------------------------------------------------ lifting, the IP, what is told


def test_lifting_a_throttle_lifts_only_that_number_s_requests(limits):
    limits(COOLDOWN=60)
    request_code(NUMBER)
    request_code("13900139000")
    past(10, outcome=THROTTLED)
    assert lift_throttles([NUMBER]) == 1
    lifted = dict(ThrottleEvent.objects.values_list("mobile", "lifted").filter(outcome=SENT))
    assert lifted == {NUMBER: True, "13900139000": False}
    assert request_code("13900139000").reason == "cooldown"


def test_an_empty_ip_is_no_ip(limits):
    assert request_code(NUMBER, ip="").sent
    assert VerificationCode.objects.get().ip is None


def test_the_client_ip_when_the_trusted_header_is_missing_or_hops_is_zero(settings, rf):
    from django_xunchen.verification.codes import client_ip

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {"TRUSTED_PROXY_HEADER": "HTTP_X_FORWARDED_FOR", "TRUSTED_PROXY_HOPS": 1},
    }
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 0
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2", "never the entry the client wrote"


def test_a_throttled_request_is_recorded_and_told_in_full(limits, heard):
    limits(COOLDOWN=60)
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER, "reset", ip="203.0.113.7")
    with time_machine.travel(NOON + dt.timedelta(seconds=20), tick=False):
        result = request_code(NUMBER, "reset", ip="203.0.113.7")
    assert (result.status, result.reason, result.retry_after) == ("throttled", "cooldown", 40)
    event = ThrottleEvent.objects.order_by("pk").last()
    assert (event.purpose, event.outcome, event.reason, event.at, event.ip) == (
        "reset",
        THROTTLED,
        "cooldown",
        NOON + dt.timedelta(seconds=20),
        "203.0.113.7",
    )
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_throttled"]
    assert sender is VerificationCode
    assert kwargs == {
        "mobile": NUMBER,
        "purpose": "reset",
        "ip": "203.0.113.7",
        "reason": "cooldown",
        "retry_after": 40,
    }
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_requested"]
    assert kwargs == {"mobile": NUMBER, "purpose": "reset", "message": kwargs["message"]}
    assert kwargs["message"].pk == Message.objects.get().pk


@time_machine.travel(NOON, tick=False)
def test_the_shortest_wait_is_one_second(limits):
    limits(COOLDOWN=60)
    past(59.5)
    assert asked() == (RequestStatus.THROTTLED, "cooldown", 1)


@time_machine.travel(NOON, tick=False)
def test_a_prefix_block_ends_at_its_very_moment(limits):
    limits(PREFIX_LIMIT=100)
    ThrottleBucket.objects.create(key=f"prefix:{NUMBER[:7]}", blocked_until=NOON)
    assert asked()[0] == RequestStatus.SENT


@time_machine.travel(NOON, tick=False)
def test_counts_far_from_midnight_keep_to_their_windows(limits):
    limits(PER_DAY=3, IP_PER_HOUR=2, PREFIX_LIMIT=2, PREFIX_WINDOW=900)
    past(7200), past(3600 * 5), past(60, mobile="13900139000")  # another number, today
    ip = "198.51.100.4"
    past(3601, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    past(901, mobile="13800130001"), past(100, mobile="13800130002")
    assert asked(ip=ip)[0] == RequestStatus.SENT


@time_machine.travel(NOON, tick=False)
def test_a_lifted_request_does_not_count_in_the_wait(limits):
    limits(PER_HOUR=2)
    past(3000), past(2000), past(50)
    lifted = past(100)
    ThrottleEvent.objects.filter(pk=lifted.pk).update(lifted=True)
    assert asked() == (RequestStatus.THROTTLED, "hourly", 3600 - 2000)


def test_lifting_twice_lifts_nothing_the_second_time(limits):
    request_code(NUMBER)
    assert lift_throttles([NUMBER]) == 1
    assert lift_throttles([NUMBER]) == 0


def test_today_s_volume_counts_today_s_codes_sent(limits):
    from django_xunchen.verification.codes import volume_today

    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        past(1200), past(60), past(30, outcome=THROTTLED)
        assert volume_today() == (1, 100)


def test_the_ip_s_count_is_kept_in_a_bucket_of_its_own(limits):
    """Each counted key has a row that every request locks, so that the count holds
    across processes; the IP's too."""
    request_code(NUMBER, ip="203.0.113.7")
    request_code("13900139000")
    assert set(ThrottleBucket.objects.values_list("key", flat=True)) == {
        f"mobile:{NUMBER}",
        "mobile:13900139000",
        f"prefix:{NUMBER[:7]}",
        "prefix:1390013",
        "ip:203.0.113.7",
    }


def test_seconds_until_next_code_says_what_request_code_would(xunchen_outbox):
    """The wait a page shows after a reload is the one a request would be told, for the
    cooldown and the hourly limit; nothing is written to find it."""
    from django_xunchen.verification import seconds_until_next_code

    assert seconds_until_next_code(NUMBER) == 0
    with time_machine.travel(NOON, tick=False):
        assert request_code(NUMBER).sent
        events = ThrottleEvent.objects.count()
        assert seconds_until_next_code(NUMBER) == request_code(NUMBER).retry_after == 60
        ThrottleEvent.objects.filter(outcome=THROTTLED).delete()
        assert ThrottleEvent.objects.count() == events
    with time_machine.travel(NOON + dt.timedelta(seconds=45), tick=False):
        assert seconds_until_next_code(NUMBER) == 15
        assert seconds_until_next_code("13900139000") == 0
    with time_machine.travel(NOON + dt.timedelta(seconds=61), tick=False):
        assert seconds_until_next_code(NUMBER) == 0
        for purpose in ["signup", "reset", "login", "signup"]:
            ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(minutes=2))
            assert request_code(NUMBER, purpose).sent
        ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(minutes=2))
        hourly = request_code(NUMBER).retry_after
        ThrottleEvent.objects.filter(outcome=THROTTLED).delete()
        assert seconds_until_next_code(NUMBER) == hourly > 3000


def test_a_throttled_request_without_an_address_is_announced_with_none(heard):
    """No IP given (or an empty one): the signal carries ``None``, never an empty string,
    and no per-IP bucket or event address is written."""
    request_code(NUMBER, "reset")
    assert request_code(NUMBER, "reset", ip="").status == RequestStatus.THROTTLED
    ((_, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_throttled"]
    assert kwargs["ip"] is None
    assert set(ThrottleEvent.objects.values_list("ip", flat=True)) == {None}
    assert not ThrottleBucket.objects.filter(key__startswith="ip:").exists()
