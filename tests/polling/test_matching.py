"""What polling writes when it matches: orphans rematched later with their own report's
code and time, a report without a time, a second failure that changes nothing, the
signals a site hears whatever sender it named, and the message a reply belongs to; a
report moves its message forward only, and each message takes its own first report of
its outcome."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen import signals as module
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ, RawResponse
from django_xunchen.models import InboundMessage, Message, PollJournalEntry, Report
from django_xunchen.polling import replies
from django_xunchen.polling import rows as polling_rows
from django_xunchen.polling.reports import apply_report

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=CHINA_TZ)


@pytest.fixture
def on_locmem(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}


def at(seconds):
    return time_machine.travel(T0 + dt.timedelta(seconds=seconds), tick=False)


def sent(mobile, msgid, **fields):
    fields.setdefault("submitted_at", T0)
    return Message.objects.create(mobile=mobile, content="x", msgid=msgid, status=S.SENT, **fields)


def test_orphans_rematched_later_carry_their_own_report_and_time(on_locmem, monkeypatch):
    monkeypatch.setattr(polling_rows, "CHUNK", 1)
    heard = []

    def listen(sender, report, message, delivered, **kwargs):
        heard.append((report.msgid, message.status, message.report_status, message.reported_at))

    with at(10):
        locmem.queue_report("13800138000", "late-1", "DELIVRD")
        locmem.queue_report("13800138001", "never", "UNDELIV")
        locmem.queue_report("13800138002", "late-2", "MA:0006")
    with at(20):
        assert poll(force=True, inbound=False).reports_matched == 0
    first, second = sent("13800138000", "late-1"), sent("13800138002", "late-2")
    module.report_matched.connect(listen, sender=Report, weak=False)
    try:
        with at(30):
            assert poll(force=True, inbound=False).rematched == 2, "each chunk counted"
    finally:
        module.report_matched.disconnect(listen, sender=Report)
    reported, rematched = T0 + dt.timedelta(seconds=10), T0 + dt.timedelta(seconds=30)
    rows = Message.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk")
    assert list(rows.values_list("status", "report_status", "reported_at", "updated_at")) == [
        (S.DELIVERED, "DELIVRD", reported, rematched),
        (S.UNDELIVERED, "MA:0006", reported, rematched),
    ]
    assert heard == [
        ("late-1", S.DELIVERED, "DELIVRD", reported),
        ("late-2", S.UNDELIVERED, "MA:0006", reported),
    ]


class Timeless(locmem.SMSBackend):
    """Reports without a <time>."""

    body = b""

    def fetch_reports(self):
        return RawResponse("queryReport", self.body)


def _timeless(*reports):
    Timeless.body = (
        "<sms><mt><status>0</status></mt>"
        + "".join(
            f"<rpt><mobile>{m}</mobile><msgid>{i}</msgid><status>{s}</status></rpt>"
            for m, i, s in reports
        )
        + "</sms>"
    ).encode()


@pytest.mark.parametrize("status", ["DELIVRD", "MA:0006"])
def test_a_report_without_a_time_is_stamped_with_the_poll_s(on_locmem, status):
    message = sent("13800138000", "m1")
    orphan_to_be = "13800138001"
    _timeless(("13800138000", "m1", status), (orphan_to_be, "m2", status))
    with at(60):
        poll(force=True, inbound=False, backend=f"{__name__}.Timeless")
    later = sent(orphan_to_be, "m2")
    Timeless.body = b"<sms><mt><status>0</status></mt></sms>"
    with at(90):
        assert poll(force=True, inbound=False, backend=f"{__name__}.Timeless").rematched == 1
    message.refresh_from_db()
    later.refresh_from_db()
    assert (message.report_status, message.reported_at) == (status, T0 + dt.timedelta(seconds=60))
    assert (later.report_status, later.reported_at) == (status, T0 + dt.timedelta(seconds=90))


def test_a_second_failure_report_changes_nothing(on_locmem):
    message = sent("13800138000", "m1")
    with at(10):
        locmem.queue_report("13800138000", "m1", "MA:0006")
        poll(force=True, inbound=False)
    with at(20):
        locmem.queue_report("13800138000", "m1", "MB:0001")
        poll(force=True, inbound=False)
    message.refresh_from_db()
    assert (message.status, message.report_status, message.updated_at) == (
        S.UNDELIVERED,
        "MA:0006",
        T0 + dt.timedelta(seconds=10),
    )


@pytest.mark.parametrize("name", ["reports_received", "report_received"])
def test_a_receiver_for_reports_only_hears_them(on_locmem, name):
    heard = []

    def listen(sender, **kwargs):
        heard.append(sender)

    signal = getattr(module, name)
    signal.connect(listen, sender=Report, weak=False)
    try:
        send_sms("13800138000", "x")
        locmem.deliver_all()
        poll(force=True, inbound=False)
    finally:
        signal.disconnect(listen, sender=Report)
    assert heard == [Report]


def test_the_report_signals_read_the_messages_with_the_reports(on_locmem):
    def listen(sender, report, message, **kwargs):
        assert message.status == S.DELIVERED

    module.report_received.connect(listen, weak=False)
    counts = {}
    try:
        for n in (1, 1, 5):  # the first poll creates the poll state and the rollup days
            send_sms([f"1380000{i:04d}" for i in range(n)], "x")
            locmem.deliver_all()
            locmem.outbox.clear()
            with CaptureQueriesContext(connection) as queries:
                poll(force=True, inbound=False)
            counts[n] = len(queries)
    finally:
        module.report_received.disconnect(listen)
    assert counts[5] == counts[1]


def test_a_reply_goes_to_the_message_sent_last_and_on_its_own_account(settings, xunchen_outbox):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "b": {"BACKEND": LOCMEM, "USERNAME": "B"}},
    }
    now = timezone.now()
    older, newer = (sent("13800138000", m, submitted_at=now) for m in ("m1", "m2"))
    sent("13800138001", "m3", account="b", submitted_at=now)
    locmem.queue_reply("13800138000", "好")
    locmem.queue_reply("13800138001", "退订")
    poll(force=True, reports=False)
    replies = dict(InboundMessage.objects.values_list("mobile", "message"))
    assert replies == {"13800138000": newer.pk, "13800138001": None}
    assert older.pk < newer.pk


def test_a_reply_goes_to_the_message_submitted_last_not_created_last():
    from django_xunchen.client.types import InboundSMS

    created_first = Message(mobile="13800138000", extcode="12", created_at=T0)
    created_first.submitted_at = T0 + dt.timedelta(hours=2)
    created_last = Message(
        mobile="13800138000", extcode="12", created_at=T0 + dt.timedelta(hours=1)
    )
    created_last.submitted_at = T0 + dt.timedelta(hours=1)
    reply = InboundSMS(mobile="13800138000", recvcode="9912", content="好", received_at=None)
    match = replies._match_reply(reply, [created_last, created_first], sender="")
    assert match is created_first


def test_a_poll_that_finds_the_lock_free_a_moment_later_says_another_process(
    on_locmem, monkeypatch
):
    from django_xunchen.polling.locks import DatabaseLock

    monkeypatch.setattr(DatabaseLock, "acquire", lambda self: False)
    monkeypatch.setattr(DatabaseLock, "holder", lambda self: None)
    assert poll(force=True).locked_by == "another process"


def test_a_poll_of_one_account_ingests_only_that_account_s_pending_entries(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "b": {"BACKEND": LOCMEM, "USERNAME": "B"}},
    }
    body = b"<sms><mt><status>0</status></mt></sms>"
    for account in ("default", "b"):
        PollJournalEntry.objects.create(
            account=account, operation="queryReport", body=body, fetched_at=T0
        )
    assert poll(force=True, account="b").recovered == 1
    states = dict(PollJournalEntry.objects.filter(fetched_at=T0).values_list("account", "state"))
    assert states == {"default": "pending", "b": "done"}


# ------------------------------------------------------------------ statuses move forward


@pytest.mark.parametrize(
    ("before", "delivered", "after", "changed"),
    [
        (S.SENT, True, S.DELIVERED, True),
        (S.SENT, False, S.UNDELIVERED, True),
        (S.UNDELIVERED, True, S.DELIVERED, True),
        (S.UNDELIVERED, False, S.UNDELIVERED, False),
        (S.DELIVERED, False, S.DELIVERED, False),
        (S.FAILED, True, S.FAILED, False),
    ],
)
def test_a_report_moves_a_message_forward_never_back(before, delivered, after, changed):
    message = Message(mobile="13800138000", content="x", status=before)
    at = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)
    now = dt.datetime(2026, 11, 26, 10, 5, tzinfo=dt.timezone.utc)
    with time_machine.travel(now, tick=False):
        assert apply_report(message, "X", delivered, at) is changed
    assert message.status == after
    if changed:
        assert (message.report_status, message.reported_at, message.updated_at) == ("X", at, now)
    else:
        assert message.updated_at is None


def test_each_message_takes_its_own_first_report_of_its_outcome(xunchen_outbox):
    a, b = send_sms(["13800138001", "13800138002"], "x")
    locmem.queue_report(a.mobile, a.msgid, "UNDELIV")
    locmem.queue_report(a.mobile, a.msgid, "DELIVRD")
    locmem.queue_report(b.mobile, b.msgid, "REJECTD")
    poll(force=True)
    stored = {m.mobile: (m.status, m.report_status) for m in Message.objects.all()}
    assert stored == {a.mobile: (S.DELIVERED, "DELIVRD"), b.mobile: (S.UNDELIVERED, "REJECTD")}


@pytest.fixture
def only_single_report_listener():
    got = []

    def handler(sender, report, **kwargs):
        got.append(report.msgid)

    module.report_received.connect(handler)
    yield got
    module.report_received.disconnect(handler)


def test_a_site_listening_to_single_reports_hears_each_once(
    xunchen_outbox, only_single_report_listener
):
    first, second = send_sms(["13800138001", "13800138002"], "x")
    locmem.queue_report(first.mobile, first.msgid)
    poll(force=True)
    locmem.queue_report(second.mobile, second.msgid)
    poll(force=True)
    assert only_single_report_listener == [first.msgid, second.msgid]


def test_orphans_matched_later_take_their_own_first_report_of_their_outcome(xunchen_outbox):
    """Reports that came before their message had its msgid (the send had not
    committed) are matched by a later poll, each message to its own reports."""
    a, b, c = send_sms(["13800138001", "13800138002", "13800138003"], "x")
    Message.objects.update(msgid="")  # as if the sends had not committed yet
    locmem.queue_report(a.mobile, a.msgid, "UNDELIV")
    locmem.queue_report(a.mobile, a.msgid, "DELIVRD")
    locmem.queue_report(b.mobile, b.msgid, "REJECTD")
    locmem.queue_report(c.mobile, c.msgid, "EXPIRED")
    assert poll(force=True).reports_matched == 0
    for message in (a, b, c):
        Message.objects.filter(pk=message.pk).update(msgid=message.msgid)
    assert poll(force=True).rematched == 4
    stored = {m.mobile: (m.status, m.report_status) for m in Message.objects.all()}
    assert stored == {
        a.mobile: (S.DELIVERED, "DELIVRD"),
        b.mobile: (S.UNDELIVERED, "REJECTD"),
        c.mobile: (S.UNDELIVERED, "EXPIRED"),
    }
