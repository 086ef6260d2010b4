"""The analytics' rollup always equals a recount of the messages, after every kind of
change to an old day (as the daily rollup does: tests/operations/test_rollup.py), and
reading it never writes."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import campaigns, poll, send_queued, send_sms
from django_xunchen.analytics import figures
from django_xunchen.backends import locmem
from django_xunchen.models import Campaign, DeliveryFigure, FailureFigure, Message
from django_xunchen.models.analytics import DIMENSIONS
from django_xunchen.operations import rollup

pytestmark = pytest.mark.django_db
S = Message.Status
EVERYTHING = {"all": DIMENSIONS[:2], "rest": DIMENSIONS[2:4]}
#: Every dimension at once, two by two, as read() takes them.
PAIRS = {
    "day_account": ("day", "account"),
    "kind_template": ("kind", "template_id"),
    "campaign_carrier": ("campaign_id", "carrier"),
    "province": ("province",),
}
FAILURES = {"code": ("code", "status"), "carrier": ("carrier", "day")}


def at(days_ago: int, hour: int = 10):
    moment = timezone.localtime() - dt.timedelta(days=days_ago)
    return time_machine.travel(moment.replace(hour=hour, minute=0), tick=False)


def window():
    today = timezone.localdate()
    return today - dt.timedelta(days=29), today


def plan():
    first, last = window()
    return figures.plan(
        first,
        last,
        today=rollup.today(),
        cutoff=rollup.settled_until(),
        start_of=rollup._start_of,
    )


def recount():
    first, last = window()
    everything = figures.Plan(
        live=[(rollup._start_of(first), rollup._start_of(last + dt.timedelta(1)))]
    )
    return (
        figures.read(everything, figures.Filters(), PAIRS),
        figures.read(everything, figures.Filters(), FAILURES, failures=True),
    )


def assert_rollup_equals_a_recount():
    """Brings the rollup up to date as the poll does, then reads the stored days (and
    today's live part) and compares them with the messages counted afresh."""
    first, last = window()
    rollup.figures(first, last)
    where = plan()
    assert where.stored, "the comparison must read stored figures"
    with CaptureQueriesContext(connection) as queries:
        rolled = (
            figures.read(where, figures.Filters(), PAIRS),
            figures.read(where, figures.Filters(), FAILURES, failures=True),
        )
    assert len(queries) == 2, "one statement per table"
    assert not [q for q in queries if not q["sql"].lstrip("( ").startswith("SELECT")]
    assert rolled == recount()


def test_the_analytics_follow_every_change_to_an_old_day(xunchen_outbox):
    with at(10):
        sent = send_sms(["13800000001", "18600000002", "18900000003"], "旧的通知")
        locmem.queue_report("13800000001", sent[0].msgid)
        poll(force=True)
        expiring = Message.objects.create(
            mobile="13800000004",
            content="过期",
            status=S.QUEUED,
            expires_at=timezone.now() + dt.timedelta(days=1),
            hold_until=timezone.now() + dt.timedelta(days=30),
        )
        later = Message.objects.create(
            mobile="13800000005",
            content="稍后发送",
            status=S.QUEUED,
            hold_until=timezone.now() + dt.timedelta(days=30),
        )
        paused = Campaign.objects.create(name="春季", content="x", state="paused")
        Message.objects.create(
            mobile="13800000006",
            content="x",
            status=S.QUEUED,
            campaign=paused,
            hold_until=timezone.now() + dt.timedelta(days=90),
        )
    with at(5):
        send_sms("13900000001", "五天前")
        rollup.maintain()
    day10 = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    stored = DeliveryFigure.objects.filter(day=day10)
    assert {(f.carrier, f.province, f.sent, f.delivered) for f in stored} >= {
        ("unicom", "BJ", 1, 0),
        ("telecom", "BJ", 1, 0),
        ("mobile", "BJ", 0, 1),
    }
    assert_rollup_equals_a_recount()

    locmem.queue_report("18600000002", sent[1].msgid, "MA:0006")  # a late report
    poll(force=True)
    assert_rollup_equals_a_recount()
    assert FailureFigure.objects.get(day=day10).code == "MA:0006"
    assert send_queued()["expired"] == 1  # the expiry
    assert_rollup_equals_a_recount()
    Message.objects.filter(pk=later.pk).update(hold_until=None)
    assert send_queued()["sent"] == 1  # an old row's outcome
    assert_rollup_equals_a_recount()
    assert campaigns.cancel(paused) == 1  # a cancelled campaign row
    assert_rollup_equals_a_recount()
    assert expiring.__class__.objects.get(pk=expiring.pk).status == S.EXPIRED


def test_today_is_read_from_its_settled_part_and_counted_live_after(xunchen_outbox):
    today = timezone.localdate()

    def moment(hour, minute=0):
        return timezone.make_aware(dt.datetime.combine(today, dt.time(hour, minute)))

    with time_machine.travel(moment(9), tick=False):
        morning = send_sms(["13800000001", "13300000002"], "早上")
    with time_machine.travel(moment(14, 30), tick=False):
        send_sms("15000000003", "下午")
    with time_machine.travel(moment(15, 10), tick=False):
        assert_rollup_equals_a_recount()
        assert DeliveryFigure.objects.filter(day=today).count() == 2, "the morning's"
        where = plan()
        assert where.stored[-1] == today and where.live == [
            (moment(14), moment(0) + dt.timedelta(days=1))
        ]
        Message.objects.filter(pk=morning[1].pk).update(status=S.FAILED, error_code="-15")
        rollup.touched([morning[1]])
        assert_rollup_equals_a_recount()
        locmem.queue_report("13800000001", morning[0].msgid, "MA:0006")
        poll(force=True)
        assert_rollup_equals_a_recount()


def test_a_day_no_poll_has_recounted_is_counted_live_and_nothing_is_written(xunchen_outbox):
    with at(3):
        send_sms(["13800000001", "13800000002"], "三天前")
    rollup.maintain()
    Message.objects.update(status=S.FAILED)
    rollup.touched(Message.objects.all())
    where = plan()
    three = timezone.localdate() - dt.timedelta(days=3)
    assert three not in where.stored
    with CaptureQueriesContext(connection) as queries:
        read = figures.read(where, figures.Filters(), {"status": ("day",)})
    assert all(q["sql"].lstrip("( ").startswith("SELECT") for q in queries)
    assert read["status"][(three.isoformat(),)]["failed"] == 2


def test_filters_narrow_both_parts(xunchen_outbox):
    with at(4):
        send_sms("13800000001", "通知")
        send_sms("13800000002", "营销 回T退订", kind="marketing")
    send_sms("13800000003", "今天", kind="marketing")
    rollup.maintain()
    marketing = figures.Filters(kind="marketing")
    got = figures.read(plan(), marketing, {"all": ()})
    assert got["all"][()]["sent"] == 2
    assert figures.read(plan(), figures.Filters(account="other"), {"all": ()}) == {"all": {}}
