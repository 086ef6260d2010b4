"""The dashboard's daily rollup always equals a recount of the messages, whatever
changes their days after they were rolled up."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import campaigns, poll, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Campaign, DailyFigure, Message, RollupDay
from django_xunchen.operations import rollup

pytestmark = pytest.mark.django_db
S = Message.Status


def at(days_ago: int, hour: int = 10):
    moment = timezone.localtime() - dt.timedelta(days=days_ago)
    return time_machine.travel(moment.replace(hour=hour, minute=0), tick=False)


def window():
    today = timezone.localdate()
    return today - dt.timedelta(days=29), today


def assert_rollup_equals_a_recount():
    first, last = window()
    rolled = {day: rows for day, rows in rollup.figures(first, last).items() if rows}
    counted = {day: rows for day, rows in rollup.recount(first, last).items() if rows}
    assert rolled == counted


def test_the_rollup_follows_every_change_to_an_old_day(xunchen_outbox):
    with at(10):
        sent = send_sms(["13800000001", "13800000002", "13800000003"], "旧的通知")
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
        # the first poll, ten days ago, rolled up the 30 days before its live ones
        assert rollup.maintain() == 5, "the days since then that are no longer live"
    assert RollupDay.objects.filter(stale=False).count() == 35
    day10 = timezone.localdate() - dt.timedelta(days=10)
    assert DailyFigure.objects.filter(day=day10, status="sent").get().messages == 2
    assert_rollup_equals_a_recount()

    # Today, each writer changes rows created ten days ago:
    locmem.queue_report("13800000002", sent[1].msgid, "MA:0006")  # a late report
    poll(force=True)
    assert_rollup_equals_a_recount()
    assert send_queued()["expired"] == 1  # the expiry
    assert expiring.__class__.objects.get(pk=expiring.pk).status == S.EXPIRED
    assert_rollup_equals_a_recount()
    Message.objects.filter(pk=later.pk).update(hold_until=None)
    assert send_queued()["sent"] == 1  # an old row's outcome
    assert_rollup_equals_a_recount()
    assert campaigns.cancel(paused) == 1  # a cancelled campaign row
    assert_rollup_equals_a_recount()
    figures = rollup.figures(day10, day10)[day10]
    assert figures[("default", "notification", "undelivered")] == (1, 1)
    assert figures[("default", "notification", "cancelled")] == (1, 1)


def test_rebuild_recounts_everything(xunchen_outbox):
    with at(3):
        send_sms(["13800000001", "13800000002"], "三天前")
    rollup.maintain()
    DailyFigure.objects.update(messages=99)  # say the rollup went wrong
    call_command("sms_rollup", "--rebuild")
    assert_rollup_equals_a_recount()
    assert DailyFigure.objects.get().messages == 2


#: An afternoon in the site's time zone: today is rolled up to 14:00, counted live since.
AFTERNOON = timezone.make_aware(dt.datetime(2026, 11, 26, 15, 10))


@time_machine.travel(AFTERNOON, tick=False)
def test_the_dashboard_reads_the_rollup_not_the_old_messages(admin_client, xunchen_outbox):
    with at(12):
        send_sms(["13800000001", "13800000002"], "旧")
    send_sms("13800000003", "今天")
    admin_client.get("/admin/django_xunchen/message/dashboard/")  # rolls the old days up
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/django_xunchen/message/dashboard/")
    assert page.context["total"] == 3
    old_scans = [
        q["sql"]
        for q in queries
        if 'FROM "django_xunchen_message"' in q["sql"]
        and "GROUP BY" in q["sql"]
        # the banner's delivery alarm reads the last hour's messages, not old days
        and "AS delivery ON 1 = 1" not in q["sql"]
    ]
    assert len(old_scans) == 1, "only today is counted live"
    assert len(queries) <= 10


def test_touched_marks_the_day_of_every_row_stale():
    """A send's rows share one created_at, which is converted once; a list that mixes
    days (a resend of old rows, the tick's leftovers) must still mark each of them."""
    today = timezone.localdate()
    days = [today - dt.timedelta(days=n) for n in (3, 5, 7, 9)]
    RollupDay.objects.bulk_create([RollupDay(day=d, stale=False) for d in days])
    moments = [timezone.make_aware(dt.datetime.combine(d, dt.time(10))) for d in days[:3]]
    rows = [Message(created_at=m) for m in (moments[0], moments[0], moments[1], moments[2])]
    rows.append(Message(created_at=None))
    rollup.touched(rows)
    stale = set(RollupDay.objects.filter(stale=True).values_list("day", flat=True))
    assert stale == set(days[:3])


def test_today_is_rolled_up_to_its_last_settled_hour_and_follows_its_changes(xunchen_outbox):
    """The dashboard of a busy day counts only the last hour or two live; the rest of
    today comes from the rollup, which a change to one of its messages makes stale."""
    today = timezone.localdate()

    def moment(hour, minute=0, day=today):
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))

    def settled():
        row = RollupDay.objects.get(day=today)
        stored = sum(f.messages for f in DailyFigure.objects.filter(day=today))
        return row.stale, row.settled_until, stored

    with time_machine.travel(moment(9), tick=False):
        morning = send_sms(["13800000001", "13800000002"], "早上")
    with time_machine.travel(moment(14, 30), tick=False):
        afternoon = send_sms("13800000003", "下午")
    with time_machine.travel(moment(15, 10), tick=False):
        assert rollup.settled_until() == moment(14)
        assert_rollup_equals_a_recount()
        assert settled() == (False, moment(14), 2), "the morning's two, not the afternoon's"
        with CaptureQueriesContext(connection) as queries:
            assert_rollup_equals_a_recount()
        assert not [q for q in queries if q["sql"].startswith("UPDATE")], "read, not recounted"

        Message.objects.filter(pk=afternoon[0].pk).update(status=S.FAILED)
        rollup.touched(afternoon)
        assert settled()[0] is False, "a message counted live leaves the rollup fresh"
        assert_rollup_equals_a_recount()

        Message.objects.filter(pk=morning[1].pk).update(status=S.FAILED)
        rollup.touched([morning[1]])
        assert settled()[0] is True
        assert_rollup_equals_a_recount()
        assert settled() == (False, moment(14), 2)

        locmem.queue_report("13800000001", morning[0].msgid, "MA:0006")  # set-based
        poll(force=True)
        assert_rollup_equals_a_recount()
        assert DailyFigure.objects.get(day=today, status=S.UNDELIVERED).messages == 1

    with time_machine.travel(moment(16, 5), tick=False):
        assert_rollup_equals_a_recount()
        assert settled() == (False, moment(15), 3), "an hour later, the afternoon's too"

    tomorrow = today + dt.timedelta(days=1)
    with time_machine.travel(moment(0, 30, day=tomorrow), tick=False):
        assert rollup.settled_until() is None, "the first hour of a day is all live"
        rollup.maintain()
        assert settled() == (False, None, 3), "yesterday rolled up whole"
        assert_rollup_equals_a_recount()
