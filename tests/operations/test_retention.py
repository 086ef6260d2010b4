"""sms_cleanup: what it deletes, what it never touches, and that it works in batches
that each commit."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen.models import (
    Campaign,
    CampaignRecipient,
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    Suppression,
    ThrottleBucket,
    ThrottleEvent,
    VerificationCode,
)
from django_xunchen.operations.checks import check_settings
from django_xunchen.operations.retention import prune

pytestmark = pytest.mark.django_db
S = Message.Status
NOW = timezone.now()
OLD = NOW - dt.timedelta(days=40)


@pytest.fixture
def keep_30_days(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "RETENTION": {"MESSAGES": 30}}


def message(status, at=OLD, mobile="13800138000", **fields):
    row = Message.objects.create(mobile=mobile, content="x", status=status, **fields)
    Message.objects.filter(pk=row.pk).update(created_at=at)
    return row


def report(msg=None, at=OLD):
    row = Report.objects.create(
        mobile="13800138000", msgid="m", status="DELIVRD", delivered=True, message=msg
    )
    Report.objects.filter(pk=row.pk).update(received_at=at)
    return row


def reply(msg=None, at=OLD):
    row = InboundMessage.objects.create(
        mobile="13800138000", recvcode="1069", content="好", message=msg
    )
    InboundMessage.objects.filter(pk=row.pk).update(stored_at=at)
    return row


def test_old_messages_go_with_their_reports_and_replies(keep_30_days):
    statuses = [S.DELIVERED, S.UNDELIVERED, S.FAILED, S.SENT, S.UNKNOWN, S.SUPPRESSED]
    old = [message(status) for status in statuses]
    for row in old:
        report(row, at=NOW)
        reply(row, at=NOW)
    in_flight = [message(S.QUEUED), message(S.SENDING)]
    recent = message(S.DELIVERED, at=NOW - dt.timedelta(days=29))
    recent_report = report(recent)
    resend = message(S.DELIVERED, at=NOW, resent_from=old[0])
    opt_out = reply(old[1], at=NOW)
    suppression = Suppression.objects.create(
        mobile="13800138000", scope="marketing", source="reply", reply=opt_out
    )

    result = prune()

    assert result.counts["messages"] == len(old)
    assert set(Message.objects.values_list("pk", flat=True)) == {
        *(m.pk for m in in_flight),
        recent.pk,
        resend.pk,
    }
    assert list(Report.objects.all()) == [recent_report]
    assert not InboundMessage.objects.exists()
    resend.refresh_from_db()
    suppression.refresh_from_db()
    assert resend.resent_from is None and suppression.reply is None, "the rest is kept"


def test_unmatched_reports_and_replies_go_by_their_own_age(keep_30_days):
    report(at=OLD), reply(at=OLD)
    kept = [report(at=NOW), reply(at=NOW)]
    result = prune()
    assert result.counts == {"reports": 1, "replies": 1}
    assert [*Report.objects.all(), *InboundMessage.objects.all()] == kept


def test_finished_campaigns_go_by_their_own_age_and_leave_their_messages(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "RETENTION": {"CAMPAIGNS": 30}}

    def campaign(state, finished=OLD):
        row = Campaign.objects.create(name=state, content="x", state=state)
        Campaign.objects.filter(pk=row.pk).update(created_at=OLD, finished_at=finished)
        CampaignRecipient.objects.create(campaign=row, row=2, mobile="13800138000")
        return row

    done, cancelled, running = campaign("done"), campaign("cancelled"), campaign("running")
    recent = campaign("done", finished=NOW - dt.timedelta(days=29))  # created long ago
    sending = campaign("done")
    message(S.SENDING, campaign=sending)  # a request still under way: not finished
    sent = message(S.DELIVERED, campaign=done)
    assert prune().counts == {"campaigns": 2}
    assert set(Campaign.objects.all()) == {running, recent, sending}
    assert not CampaignRecipient.objects.filter(campaign_id__in=[done.pk, cancelled.pk])
    sent.refresh_from_db()
    assert sent.campaign_id is None, "the message stays, under the messages' own age"


def test_the_messages_age_leaves_campaigns_alone(keep_30_days):
    row = Campaign.objects.create(name="old", content="x", state="done", finished_at=OLD)
    message(S.DELIVERED, campaign=row)
    assert prune().counts == {"messages": 1}
    assert Campaign.objects.get() == row


def test_messages_are_kept_for_ever_unless_configured():
    message(S.DELIVERED, at=NOW - dt.timedelta(days=3650))
    assert "messages" not in prune().counts and Message.objects.count() == 1


def test_codes_throttle_events_and_the_journal_have_their_own_ages(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "JOURNAL_RETENTION_DAYS": 7}
    for at in (NOW - dt.timedelta(days=31), NOW - dt.timedelta(days=29)):
        code = VerificationCode.objects.create(
            mobile="13800138000",
            purpose="login",
            nonce="n",
            code_hash="h",
            max_attempts=5,
            expires_at=at,
        )
        VerificationCode.objects.filter(pk=code.pk).update(created_at=at)
        ThrottleEvent.objects.create(
            mobile="13800138000", prefix="1380013", purpose="login", outcome="sent", at=at
        )
    ThrottleBucket.objects.create(key="mobile:13800138000")
    blocked = ThrottleBucket.objects.create(
        key="prefix:1380013", blocked_until=NOW + dt.timedelta(hours=1)
    )
    journal = {}
    for state in ("done", "pending", "salvaged", "set_aside"):
        for days in (8, 6):
            journal[state, days] = PollJournalEntry.objects.create(
                operation="queryReport",
                body=b"",
                fetched_at=NOW,
                state=state,
                ingested_at=NOW - dt.timedelta(days=days),
            )

    result = prune()

    assert result.counts == {
        "verification codes": 1,
        "throttle events": 1,
        "throttle buckets": 1,
        "poll journal entries": 1,
    }
    assert VerificationCode.objects.get().created_at > NOW - dt.timedelta(days=30)
    assert ThrottleEvent.objects.get().at > NOW - dt.timedelta(days=30)
    assert list(ThrottleBucket.objects.all()) == [blocked], "a block in force stays"
    assert not PollJournalEntry.objects.filter(pk=journal["done", 8].pk).exists()
    assert PollJournalEntry.objects.count() == 7, "only ingested entries ever go"


@pytest.mark.django_db(transaction=True)
def test_it_deletes_in_batches_each_committed(keep_30_days):
    for i in range(5):
        message(S.DELIVERED, mobile=f"1380013800{i}")
    seen = []

    def progress(label, n):
        seen.append((label, n, connection.in_atomic_block))

    with CaptureQueriesContext(connection) as queries:
        result = prune(only=("messages",), batch_size=2, progress=progress)
    assert seen == [("messages", 2, False)] * 2 + [("messages", 1, False)], (
        "each batch is committed before the next"
    )
    assert result.batches == 3 and not Message.objects.exists()
    # per batch: the ids, 2 deletes of reports and replies, 6 links set to NULL, the
    # delete, and BEGIN/COMMIT; then one empty look per other part
    assert len(queries) <= 3 * 14 + 3 * 3, "a bounded number of statements per batch"


def test_dry_run_counts_and_deletes_nothing(keep_30_days):
    message(S.DELIVERED), message(S.FAILED)
    assert prune(dry_run=True).counts == {"messages": 2}
    assert Message.objects.count() == 2


@pytest.mark.parametrize(
    ("retention", "text"),
    [
        ({"MESSAGES": 0}, "at least 1"),
        ({"THROTTLE_EVENTS": 1}, "at least 2"),
        ({"MESSAGES": "30"}, "number of days"),
        ({"FOREVER": 3}, "unknown keys: FOREVER"),
    ],
)
def test_bad_retention_settings_are_named_by_the_checks(settings, retention, text):
    settings.XUNCHEN = {**settings.XUNCHEN, "RETENTION": retention}
    errors = check_settings()
    assert any(text in e.msg and e.id == "django_xunchen.E000" for e in errors), errors
    with pytest.raises(Exception, match=text):
        prune()


def test_bad_arguments_are_refused_before_anything_is_deleted(keep_30_days):
    message(S.DELIVERED)
    with pytest.raises(ValueError, match="cannot prune spam"):
        prune(only=("messages", "spam"))
    with pytest.raises(ValueError, match="positive whole number"):
        prune(batch_size=0)
    with pytest.raises(CommandError):
        call_command("sms_cleanup", "--only", "spam")
    assert Message.objects.count() == 1


def test_the_command_says_what_it_keeps_and_deleted(keep_30_days, capsys):
    message(S.DELIVERED)
    call_command("sms_cleanup", "--dry-run")
    call_command("sms_cleanup", "--only", "messages")
    out = capsys.readouterr().out
    assert "keeping messages 30 days, verification_codes 30 days" in out
    assert "would delete 1 messages" in out and "deleted 1 messages" in out
    assert not Message.objects.exists()


def test_a_code_request_recreates_a_bucket_cleanup_deleted_meanwhile(xunchen_outbox, monkeypatch):
    """sms_cleanup may delete an idle bucket between its creation and its lock."""
    from django_xunchen import verification

    ThrottleBucket.objects.create(key="mobile:13800138000")
    real = ThrottleBucket.objects.bulk_create
    calls = []

    def bulk_create_then_cleanup(objs, **kwargs):
        created = real(objs, **kwargs)
        if not calls:
            ThrottleBucket.objects.filter(key="mobile:13800138000").delete()
        calls.append(len(objs))
        return created

    monkeypatch.setattr(ThrottleBucket.objects, "bulk_create", bulk_create_then_cleanup)
    assert verification.request_code("13800138000", "login").sent
    assert calls == [2, 1], "the missing bucket was created again, alone"
    assert ThrottleBucket.objects.filter(key="mobile:13800138000").exists()


def test_the_apis_log_goes_by_its_age_and_its_idempotency_records_after_a_day():
    from django_xunchen.httpapi.keys import create_key
    from django_xunchen.models import ApiRateWindow, ApiRequest, IdempotencyRecord

    key = create_key("orders", scopes=["send"])[0]
    old, new = (ApiRequest.objects.create(method="GET", path="/x", status=200) for _ in "ab")
    ApiRequest.objects.filter(pk=old.pk).update(at=OLD)
    stale = IdempotencyRecord.objects.create(api_key=key, key="a", request_hash="h")
    IdempotencyRecord.objects.filter(pk=stale.pk).update(created_at=NOW - dt.timedelta(hours=25))
    fresh = IdempotencyRecord.objects.create(api_key=key, key="b", request_hash="h")
    ApiRateWindow.objects.create(api_key=key, minute=NOW - dt.timedelta(days=2))
    result = prune(only=("api_requests",), now=NOW)
    assert result.counts == {"API requests": 1, "idempotency records": 1, "API rate windows": 1}
    assert list(ApiRequest.objects.all()) == [new]
    assert list(IdempotencyRecord.objects.all()) == [fresh]
