"""The delivery alarm: it fires on the collapse of one carrier on one account, once per
crossing, and nowhere else; not on a quiet night of ten failures; it clears when the
channel is back; the p90 report latency fires it too; and it shows in ``sms_health``
and on every admin page within their ten queries."""

import datetime as dt
import logging
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_xunchen import poll, send_sms, signals
from django_xunchen.analytics import alarm
from django_xunchen.backends import locmem
from django_xunchen.models import DeliveryFigure, HealthAlert, Message
from django_xunchen.operations import alerts, rollup
from django_xunchen.operations.monitoring import Level, run_checks

pytestmark = pytest.mark.django_db
S = Message.Status
#: A Tuesday afternoon in the site's time zone; the judged hour is 12:45 to 13:45.
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
#: Numbers of one 7-digit block each (tests/analytics/test_numbers.py): China Mobile in
#: Beijing, China Unicom in Beijing.
MOBILE = [f"1380013{i:04d}" for i in range(100)]
UNICOM = [f"1861234{i:04d}" for i in range(100)]
MOBILE_KEY = "delivery_degraded:default:carrier:mobile"


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def received():
    got = []

    def listen(sender, **kwargs):
        got.append(kwargs)

    signals.delivery_degraded.connect(listen)
    yield got
    signals.delivery_degraded.disconnect(listen)


def usual_week(clock, account="default", per_day=40, delivered=38, province="BJ"):
    """The 7 days before today: ``per_day`` messages a day on each of China Mobile and
    China Unicom, ``delivered`` of them delivered (95%), rolled up as the poll does."""
    for days_ago in range(1, 8):
        clock.move_to(NOW - dt.timedelta(days=days_ago), tick=False)
        Message.objects.bulk_create(
            Message(
                mobile=numbers[i],
                content="您的订单已发货",
                account=account,
                carrier=carrier,
                province=province,
                status=S.DELIVERED if i < delivered else S.UNDELIVERED,
                submitted_at=NOW - dt.timedelta(days=days_ago),
            )
            for carrier, numbers in (("mobile", MOBILE), ("unicom", UNICOM))
            for i in range(per_day)
        )
    clock.move_to(NOW, tick=False)
    rollup.maintain()


def an_hour_of_sends(clock, numbers, *, undelivered=0, now=NOW, ago=60, report_after=60, **moved):
    """Send to ``numbers`` ``ago`` minutes before ``now`` through the real path; their
    reports come ``report_after`` seconds later, the first ``undelivered`` of them
    UNDELIVRD; poll them; back to ``now``. ``moved``: fields to change on the rows
    written (``account="codes"``, ``province=""``)."""
    sent_at = now - dt.timedelta(minutes=ago)
    clock.move_to(sent_at, tick=False)
    locmem.reset()
    rows = send_sms(numbers, "您的订单已发货", background=False)
    if moved:
        Message.objects.filter(pk__in=[r.pk for r in rows]).update(**moved)
    clock.move_to(sent_at + dt.timedelta(seconds=report_after), tick=False)
    failing = set(numbers[:undelivered])
    for sent in locmem.outbox:
        for mobile in sent.mobiles:
            status = "UNDELIVRD" if mobile in failing else "DELIVRD"
            locmem.queue_report(mobile, sent.msgid, status)
    poll(force=True)
    clock.move_to(now, tick=False)


def a_collapse(clock, undelivered=55, now=NOW, **kwargs):
    """An hour of the account's sends in Beijing: 60 on China Mobile, ``undelivered`` of
    them not delivered, and 60 on China Unicom, all delivered (so that Beijing, half of
    it delivered or more, stays above half its usual rate)."""
    an_hour_of_sends(clock, MOBILE[:60], undelivered=undelivered, now=now, **kwargs)
    an_hour_of_sends(clock, UNICOM[:60], now=now, ago=40)


def delivery_check():
    return next(c for c in run_checks() if c.name == "delivery")


def test_a_collapse_of_one_carrier_on_one_account_fires_once(
    clock, received, caplog, django_capture_on_commit_callbacks
):
    usual_week(clock)
    usual_week(clock, account="codes")
    a_collapse(clock)  # China Mobile: 8% delivered; China Unicom: all
    an_hour_of_sends(clock, MOBILE[60:100], ago=50, account="codes")  # delivered

    [found] = alarm.degraded()
    assert (found.account, found.dimension, found.value) == ("default", "carrier", "mobile")
    assert (found.messages, found.collapsed, found.slow) == (60, True, False)
    assert found.rate == pytest.approx(5 / 60)
    assert found.baseline == pytest.approx(38 / 40)
    assert found.p90 == 120  # reports a minute after submission: the bucket up to 2 min
    assert "China Mobile" in found.detail and "8%" in found.detail and "95%" in found.detail

    with caplog.at_level(logging.INFO, logger="django_xunchen.health"):
        with django_capture_on_commit_callbacks(execute=True):
            alerts.watch()
        with django_capture_on_commit_callbacks(execute=True):
            alerts.watch()
    assert [(r["account"], r["degradation"].key) for r in received] == [("default", MOBILE_KEY)]
    with CaptureQueriesContext(connection) as queries:
        alarm.watch()  # raised already: its statement and the read of the raised alerts
    assert len(queries) == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "django_xunchen.health"
    assert MOBILE_KEY in errors[0].getMessage() and "China Mobile" in errors[0].getMessage()
    assert list(HealthAlert.objects.filter(active=True).values_list("key", flat=True)) == [
        MOBILE_KEY
    ]

    check = delivery_check()
    assert check.level == Level.CRITICAL and check.value == 1
    assert "China Mobile" in check.detail and "China Unicom" not in check.detail
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("sms_health", stdout=out)
    assert exited.value.code == 2
    assert "China Mobile" in out.getvalue()


def test_two_processes_crossing_at_once_fire_once(
    clock, received, django_capture_on_commit_callbacks
):
    """Both read the alert clear; the second to raise it finds it raised."""
    usual_week(clock)
    a_collapse(clock)
    [found] = alarm.degraded()
    with django_capture_on_commit_callbacks(execute=True):
        alarm._raise(found)
        alarm._raise(found)
    assert len(received) == 1


def test_a_quiet_night_of_ten_failures_is_not_a_collapse(
    clock, received, django_capture_on_commit_callbacks
):
    usual_week(clock)
    night = NOW.replace(hour=3)
    an_hour_of_sends(clock, MOBILE[:10], undelivered=10, now=night)
    assert (
        Message.objects.filter(status=S.UNDELIVERED, submitted_at__date=night.date()).count() == 10
    )
    assert alarm.degraded() == []
    with django_capture_on_commit_callbacks(execute=True):
        alerts.watch()
    assert received == []
    assert not HealthAlert.objects.filter(active=True).exists()
    assert delivery_check().level == Level.OK


def test_it_clears_when_the_channel_is_back_and_fires_again_on_the_next_collapse(
    clock, received, caplog, django_capture_on_commit_callbacks
):
    usual_week(clock)
    a_collapse(clock)
    with django_capture_on_commit_callbacks(execute=True):
        alerts.watch()
    assert HealthAlert.objects.get(key=MOBILE_KEY).active

    later = NOW + dt.timedelta(hours=2)
    a_collapse(clock, undelivered=3, now=later)  # 95% again
    with caplog.at_level(logging.INFO, logger="django_xunchen.health"):
        with django_capture_on_commit_callbacks(execute=True):
            alerts.watch()
    assert not HealthAlert.objects.get(key=MOBILE_KEY).active
    assert "no longer degraded" in caplog.text
    assert delivery_check().level == Level.OK
    assert len(received) == 1

    again = later + dt.timedelta(hours=2)
    a_collapse(clock, undelivered=50, now=again)
    with django_capture_on_commit_callbacks(execute=True):
        alerts.watch()
    assert [r["degradation"].key for r in received] == [MOBILE_KEY, MOBILE_KEY]


def test_slow_reports_fire_the_p90_rule(clock, received, django_capture_on_commit_callbacks):
    usual_week(clock)
    # All delivered, 15 minutes after: in Beijing too (its province is left out here).
    an_hour_of_sends(clock, MOBILE[:60], report_after=15 * 60, province="")
    [found] = alarm.degraded()
    assert (found.value, found.collapsed, found.slow) == ("mobile", False, True)
    assert (found.p90, found.reports) == (1200, 60)
    assert "≤ 20 min" in found.detail
    with django_capture_on_commit_callbacks(execute=True):
        alerts.watch()
    assert [r["degradation"].slow for r in received] == [True]


def test_the_p90_rule_reads_its_threshold_and_its_minimum(clock, settings):
    usual_week(clock)
    an_hour_of_sends(clock, MOBILE[:60], report_after=15 * 60, province="")
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_P90_SECONDS": 0}}
    assert alarm.degraded() == []  # 0: not watched
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_P90_SECONDS": 1200}}
    assert alarm.degraded() == []  # p90 ≤ 20 min is not above 1200 s
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_MIN_MESSAGES": 61}}
    assert alarm.degraded() == []  # 60 reports are too few
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_MIN_MESSAGES": 60}}
    assert [d.slow for d in alarm.degraded()] == [True]


def test_the_rate_rule_reads_its_fraction_and_its_minimum(clock, settings):
    usual_week(clock)
    a_collapse(clock, undelivered=33)  # 45% against 95%
    assert [d.value for d in alarm.degraded()] == ["mobile"]  # below 0.5 × 95%
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_FRACTION": 0.45}}
    assert alarm.degraded() == []  # not below 0.45 × 95%
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_MIN_MESSAGES": 61}}
    assert alarm.degraded() == []
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"DEGRADED_MIN_MESSAGES": 60}}
    assert [d.value for d in alarm.degraded()] == ["mobile"]


@pytest.mark.parametrize(
    ("ago", "report_after"),
    [(80, 60), (10, 60)],
    ids=["submitted before the hour", "submitted in the last 15 minutes"],
)
def test_only_the_messages_submitted_75_to_15_minutes_ago_count(clock, ago, report_after):
    usual_week(clock)
    a_collapse(clock, undelivered=60, ago=ago, report_after=report_after)
    assert alarm.degraded() == []


def test_the_hour_starts_75_minutes_ago_and_ends_15_minutes_ago(clock):
    usual_week(clock)
    a_collapse(clock, undelivered=60, ago=75)  # its first moment
    assert [d.value for d in alarm.degraded()] == ["mobile"]
    collapsed = Message.objects.filter(mobile__in=MOBILE[:60], submitted_at__date=NOW.date())
    collapsed.update(submitted_at=NOW - dt.timedelta(minutes=15))  # its end: out
    assert alarm.degraded() == []
    collapsed.update(submitted_at=NOW - dt.timedelta(minutes=15, microseconds=1))
    assert [d.value for d in alarm.degraded()] == ["mobile"]


def test_the_usual_rate_is_the_7_whole_days_before_today(clock):
    """Today's figures and those of 8 days ago would drown the 7 days' rate."""
    usual_week(clock)
    a_collapse(clock)
    for day in (NOW.date(), NOW.date() - dt.timedelta(days=8)):
        DeliveryFigure.objects.create(
            day=day,
            account="default",
            kind="notification",
            carrier="mobile",
            province="BJ",
            undelivered=100000,
        )
    [found] = alarm.degraded()
    assert found.baseline == pytest.approx(0.95)


def test_no_usual_rate_or_a_usual_rate_of_zero_never_fires(clock):
    an_hour_of_sends(clock, MOBILE[:60], undelivered=60)
    assert alarm.degraded() == []  # a new account: nothing to compare with
    usual_week(clock, delivered=0)
    assert alarm.degraded() == []


def test_a_province_collapsing_on_every_carrier(clock):
    usual_week(clock)
    an_hour_of_sends(clock, MOBILE[:60], undelivered=58)
    an_hour_of_sends(clock, UNICOM[:60], undelivered=58)
    found = alarm.degraded()
    assert [(d.dimension, d.value) for d in found] == [
        ("carrier", "mobile"),
        ("carrier", "unicom"),
        ("province", "BJ"),
    ]
    assert "Beijing" in found[2].detail
    assert found[2].key == "delivery_degraded:default:province:BJ"


def test_a_failing_alarm_never_raises_out_of_watch(clock, monkeypatch, caplog):
    def broken(now=None, conf=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(alarm, "degraded", broken)
    with caplog.at_level(logging.WARNING, logger="django_xunchen.health"):
        alerts.watch()
    assert "the delivery alarm could not be checked: boom" in caplog.text


def test_a_degraded_channel_shows_on_admin_pages_within_ten_queries(clock, admin_client):
    usual_week(clock)
    a_collapse(clock)
    admin_client.get(reverse("admin:django_xunchen_message_changelist"))  # warm up
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:django_xunchen_message_changelist"))
    assert response.status_code == 200
    banner = response.text.split('class="xunchen-poll-banner"', 1)[1].split("</div>", 1)[0]
    assert "Delivery degraded on account default, carrier China Mobile" in banner
    assert len(queries) <= 10, [q["sql"][:120] for q in queries]
