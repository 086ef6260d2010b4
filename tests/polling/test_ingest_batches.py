"""A large poll answer is stored in set-based statements, and its signals come in
batches after the commit, loaded back a chunk at a time."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Message, Report
from django_xunchen.signals import report_received, reports_received

pytestmark = pytest.mark.django_db(transaction=True)


def numbers(n, prefix="135"):
    return [f"{prefix}{i:08d}" for i in range(n)]


def sent_and_reported(n, undelivered_every=0):
    send_sms(numbers(n), "基准")
    for i, sent in enumerate(locmem.outbox):
        for j, mobile in enumerate(sent.mobiles):
            k = i * 100 + j
            bad = undelivered_every and k % undelivered_every == 0
            locmem.queue_report(mobile, sent.msgid, "UNDELIV" if bad else "DELIVRD")


def test_batches_and_single_signals_come_after_the_commit_in_order(xunchen_outbox):
    sent_and_reported(2500)
    batches, singles = [], []

    def on_batch(sender, reports, **kwargs):
        assert not connection.in_atomic_block, "after the commit"
        batches.append([(r.position, r.message.mobile if r.message else None) for r in reports])

    def on_single(sender, report, message, delivered, **kwargs):
        singles.append(report.position)

    reports_received.connect(on_batch, sender=Report)
    report_received.connect(on_single, sender=Report)
    try:
        assert poll(force=True, inbound=False).reports_matched == 2500
    finally:
        reports_received.disconnect(on_batch, sender=Report)
        report_received.disconnect(on_single, sender=Report)
    assert [len(b) for b in batches] == [1000, 1000, 500]
    flat = [p for b in batches for p, _ in b]
    assert flat == list(range(2500)) and singles == flat
    assert batches[0][0][1] == "13500000000", "each report with its message"


def test_statements_do_not_grow_with_the_reports(xunchen_outbox):
    def statements(n, prefix):
        locmem.reset()
        send_sms(numbers(n, prefix), "基准")
        for sent in locmem.outbox:
            for mobile in sent.mobiles:
                locmem.queue_report(mobile, sent.msgid, "DELIVRD")
        with CaptureQueriesContext(connection) as queries:
            assert poll(force=True, inbound=False).reports_matched == n
        return len(queries)

    statements(1, "135")  # the first poll also rolls the dashboard's days up
    few, many = statements(10, "136"), statements(4900, "137")
    assert many == few, "one chunk of statements, whatever the number of reports"
    assert many <= 30
    assert Message.objects.filter(status="delivered").count() == 4911


def test_set_based_statuses_follow_the_rules_of_apply_report(xunchen_outbox):
    sent_and_reported(300, undelivered_every=3)
    first = Message.objects.get(mobile="13500000000")
    # a later delivered report for an undelivered message wins; an undelivered one for a
    # delivered message changes nothing
    poll(force=True, inbound=False)
    locmem.queue_report(first.mobile, first.msgid, "DELIVRD")
    locmem.queue_report("13500000001", first.msgid, "UNDELIV")
    poll(force=True, inbound=False)
    statuses = dict(Message.objects.values_list("mobile", "status"))
    assert statuses["13500000000"] == "delivered"
    assert statuses["13500000001"] == "delivered"
    assert statuses["13500000003"] == "undelivered"
    first.refresh_from_db()
    assert first.report_status == "DELIVRD"
    assert Message.objects.get(mobile="13500000003").report_status == "UNDELIV"


def test_a_failure_after_the_insert_rolls_the_whole_answer_back(xunchen_outbox, monkeypatch):
    from django_xunchen.polling import reports

    sent_and_reported(20)
    real = reports._apply_reports

    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(reports, "_apply_reports", fail)
    assert not poll(force=True, inbound=False).ok
    assert not Report.objects.exists() and not Message.objects.filter(status="delivered")
    monkeypatch.setattr(reports, "_apply_reports", real)
    assert poll(force=True, inbound=False).recovered == 1
    assert Message.objects.filter(status="delivered").count() == 20
    with transaction.atomic():
        assert Report.objects.count() == 20


def test_a_large_answer_is_journaled_whole(xunchen_gateway):
    """Above 1 MB the body goes to PostgreSQL as a binary parameter: byte for byte."""
    from django_xunchen.client.parsing import parse_reports
    from django_xunchen.models import PollJournalEntry

    send_sms(numbers(6000), "基准")
    xunchen_gateway.deliver_now()
    assert poll(force=True, inbound=False).reports_matched == 6000
    entry = PollJournalEntry.objects.get(operation="queryReport", records=6000)
    body = bytes(entry.body)
    assert len(body) > 1 << 20 and entry.state == "done" and entry.complete
    assert len(parse_reports(body)) == 6000
