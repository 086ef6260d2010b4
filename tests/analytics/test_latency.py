"""Report latency: stored per message from its report, rolled up as a histogram."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.analytics import latency
from django_xunchen.backends import locmem
from django_xunchen.models import Message
from django_xunchen.polling.reports import apply_report

NOON = timezone.make_aware(dt.datetime(2026, 11, 20, 12, 0))


@pytest.mark.django_db
def test_the_latency_is_from_the_submission_to_the_reports_time(xunchen_outbox):
    with time_machine.travel(NOON, tick=False):
        sent = send_sms(["13800000001", "13800000002"], "通知")
    with time_machine.travel(NOON + dt.timedelta(seconds=42), tick=False):
        locmem.queue_report("13800000001", sent[0].msgid)
    with time_machine.travel(NOON + dt.timedelta(seconds=90), tick=False):
        locmem.queue_report("13800000002", sent[0].msgid, "MA:0006")
    with time_machine.travel(NOON + dt.timedelta(minutes=5), tick=False):
        poll(force=True)
    got = dict(Message.objects.values_list("mobile", "latency"))
    assert got == {
        "13800000001": dt.timedelta(seconds=42),
        "13800000002": dt.timedelta(seconds=90),
    }, "the report's time, not the poll's"


def test_a_report_applied_one_by_one_sets_the_latency_too():
    message = Message(status=Message.Status.SENT, submitted_at=NOON)
    assert apply_report(message, "DELIVRD", True, NOON + dt.timedelta(seconds=7))
    assert message.latency == dt.timedelta(seconds=7)
    unsubmitted = Message(status=Message.Status.UNKNOWN)
    assert apply_report(unsubmitted, "DELIVRD", True, NOON)
    assert unsubmitted.latency is None


@pytest.mark.parametrize(
    ("seconds", "bucket"), [(0, 0), (4.9, 0), (5, 1), (59, 4), (60, 5), (86399, 13), (86400, 14)]
)
def test_buckets(seconds, bucket):
    assert latency.bucket_of(seconds) == bucket


def test_percentiles_read_the_upper_bound_of_their_bucket():
    histogram = [0] * len(latency.COLUMNS)
    histogram[latency.bucket_of(3)] = 50  # ≤ 5 s
    histogram[latency.bucket_of(45)] = 40  # ≤ 60 s
    histogram[latency.bucket_of(4000)] = 9  # ≤ 7200 s
    histogram[-1] = 1  # more than a day
    assert latency.percentile(histogram, 0.5) == 5
    assert latency.percentile(histogram, 0.9) == 60
    assert latency.percentile(histogram, 0.99) == 7200
    assert latency.percentile(histogram, 1.0) == latency.OVER
    assert latency.percentile([0] * len(latency.COLUMNS), 0.5) is None
    assert [latency.label(s) for s in (5, 120, 7200, latency.OVER, None)] == [
        "≤ 5 s",
        "≤ 2 min",
        "≤ 2 h",
        "> 24 h",
        "—",
    ]
