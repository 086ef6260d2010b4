"""What admission writes at submit, and what it then tells its caller: the rows a claim
left that are suppressed (by the list, or for want of the consent the account requires:
the account's own setting), how many, with what message and when; a code never; the
rows at_submit held or failed brought up to date in memory; and, on PostgreSQL, a
request's worth of ids (written as one array) named right."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import policy
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.consent import grant_consent
from django_xunchen.db import ARRAY_FROM
from django_xunchen.models import Message, Suppression
from django_xunchen.sending import admission

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
WRITTEN = dt.datetime(2026, 12, 2, 20, 50, tzinfo=CHINA_TZ)
NOW = dt.datetime(2026, 12, 2, 21, 30, tzinfo=CHINA_TZ)
WORD = "特价"


@pytest.fixture
def consenting(settings):
    """``consenting`` requires consent to marketing; ``default`` does not."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM},
            "consenting": {"BACKEND": LOCMEM, "USERNAME": "C1", "REQUIRE_CONSENT": True},
        },
    }


def queued(*mobiles, kind="marketing", content="上新回T退订", account="default"):
    """Rows written (queued) at WRITTEN."""
    with time_machine.travel(WRITTEN, tick=False):
        return [
            Message.objects.create(mobile=m, content=content, kind=kind, account=account)
            for m in mobiles
        ]


@pytest.mark.parametrize(("account", "suppressed"), [("consenting", 1), ("default", 0)])
def test_a_row_left_without_consent_is_suppressed_where_its_account_requires_it(
    consenting, account, suppressed
):
    (row,) = queued("13800138000", account=account)
    assert admission.suppress_unclaimed([row.pk], "marketing", NOW, account) == suppressed
    row.refresh_from_db()
    if suppressed:
        assert (row.status, row.error_message, row.updated_at) == (
            S.SUPPRESSED,
            admission.NO_CONSENT_LATER,
            NOW,
        )
    else:
        assert (row.status, row.updated_at) == (S.QUEUED, WRITTEN)


@pytest.mark.parametrize(("account", "sent"), [("consenting", 0), ("default", 1)])
def test_a_consent_withdrawn_before_the_submit_stops_the_send_where_the_account_requires_it(
    consenting, xunchen_outbox, account, sent
):
    """Through the submit itself: the claim and what it leaves judge consent by the
    row's own account (``default`` needs none)."""
    from django_xunchen import send_queued
    from django_xunchen.consent import withdraw_consent

    grant_consent("13800138000", at=WRITTEN - dt.timedelta(days=1))
    (row,) = queued("13800138000", account=account)
    withdraw_consent("13800138000", at=WRITTEN + dt.timedelta(minutes=10))
    with time_machine.travel(NOW, tick=False):
        send_queued()
    row.refresh_from_db()
    assert len(xunchen_outbox) == sent
    if sent:
        assert row.status == S.SENT
    else:
        assert (row.status, row.error_message) == (S.SUPPRESSED, admission.NO_CONSENT_LATER)


def test_the_count_is_of_every_row_suppressed_by_the_list_or_for_want_of_consent(consenting):
    listed, unconsented, consented = "13800138000", "13800138001", "13800138002"
    policy.suppress(listed, scope=Suppression.Scope.MARKETING, source=Suppression.Source.STAFF)
    grant_consent(consented, at=WRITTEN - dt.timedelta(days=1))
    rows = queued(listed, unconsented, consented, account="consenting")
    ids = [r.pk for r in rows]
    assert admission.suppress_unclaimed(ids, "marketing", NOW, "consenting") == 2
    found = {
        m: (s, e) for m, s, e in Message.objects.values_list("mobile", "status", "error_message")
    }
    assert found == {
        listed: (S.SUPPRESSED, admission.SUPPRESSED_LATER),
        unconsented: (S.SUPPRESSED, admission.NO_CONSENT_LATER),
        consented: (S.QUEUED, ""),
    }


def test_a_code_left_unclaimed_is_never_suppressed(consenting):
    policy.suppress("13800138000", scope=Suppression.Scope.ALL, source=Suppression.Source.STAFF)
    (row,) = queued("13800138000", kind="verification", content="您的验证码是●●●●●●")
    assert admission.suppress_unclaimed([row.pk], "verification", NOW, "default") == 0
    assert admission.suppress_unclaimed([], "marketing", NOW, "consenting") == 0
    row.refresh_from_db()
    assert row.status == S.QUEUED


def test_rows_held_at_submit_are_brought_up_to_date_in_memory(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}
    rows = queued("13800138000", "13800138001")
    assert admission.at_submit(rows, NOW) == []
    morning = dt.datetime(2026, 12, 3, 8, 0, tzinfo=CHINA_TZ)
    assert [(r.status, r.hold_until, r.updated_at) for r in rows] == [(S.QUEUED, morning, NOW)] * 2


def test_rows_failed_at_submit_for_a_word_learned_since_are_brought_up_to_date_in_memory():
    rows = queued("13800138000", kind="notification", content=f"会员日{WORD}")
    policy.learn_blocked_words("default", [WORD], source=None)
    assert admission.at_submit(rows, NOW) == []
    (row,) = rows
    assert (row.status, row.updated_at) == (S.FAILED, NOW)
    assert row.error_message == admission.BLOCKED_LATER % {"words": WORD}


def test_rows_failed_at_submit_name_every_word_learned_since():
    rows = queued("13800138000", kind="notification", content="会员日特价包邮")
    policy.learn_blocked_words("default", ["包邮", WORD], source=None)
    assert admission.at_submit(rows, NOW) == []
    (row,) = rows
    assert row.error_message == admission.BLOCKED_LATER % {"words": "包邮, 特价"}
    assert row.error_message.endswith("包邮, 特价.")


def _states(*rows):
    return [
        Message.objects.values_list("status", "hold_until", "error_message").get(pk=r.pk)
        for r in rows
    ]


def test_a_hold_at_submit_writes_only_its_own_rows_still_queued(settings):
    """Another request's rows stay as they were, and so does a row of its own that
    expired on the way."""
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}
    mine, expiring = queued("13800138000", "13800138001")
    (other,) = queued("13800138002")
    Message.objects.filter(pk=expiring.pk).update(expires_at=NOW)
    expiring.expires_at = NOW
    assert admission.at_submit([mine, expiring], NOW) == []
    morning = dt.datetime(2026, 12, 3, 8, 0, tzinfo=CHINA_TZ)
    assert _states(mine, expiring, other) == [
        (S.QUEUED, morning, ""),
        (S.EXPIRED, None, ""),
        (S.QUEUED, None, ""),
    ]


def test_a_word_learned_since_fails_only_the_request_s_own_rows_still_queued():
    text = f"会员日{WORD}"
    mine, expiring = queued("13800138000", "13800138001", kind="notification", content=text)
    (other,) = queued("13800138002", kind="notification", content=text)
    Message.objects.filter(pk=expiring.pk).update(expires_at=NOW)
    expiring.expires_at = NOW
    policy.learn_blocked_words("default", [WORD], source=None)
    assert admission.at_submit([mine, expiring], NOW) == []
    failed = admission.BLOCKED_LATER % {"words": WORD}
    assert _states(mine, expiring, other) == [
        (S.FAILED, None, failed),
        (S.EXPIRED, None, ""),
        (S.QUEUED, None, ""),
    ]


@pytest.mark.postgres_only
def test_a_request_s_worth_of_ids_is_expired_and_suppressed_by_id(consenting):
    """From ARRAY_FROM ids on, PostgreSQL takes them as one array (``id = ANY(%s)``)."""
    count = ARRAY_FROM + 5
    rows = queued(*[f"1380013{i:04d}" for i in range(count)], account="consenting")
    ids = [r.pk for r in rows]
    Message.objects.filter(pk__in=ids[:3]).update(expires_at=NOW)
    grant_consent(rows[3].mobile, at=WRITTEN - dt.timedelta(days=1))
    assert admission.expire(ids, NOW) == 3
    assert admission.suppress_unclaimed(ids, "marketing", NOW, "consenting") == count - 4
    statuses = dict(Message.objects.values_list("pk", "status"))
    assert [statuses[pk] for pk in ids[:4]] == [S.EXPIRED] * 3 + [S.QUEUED]
    assert {statuses[pk] for pk in ids[4:]} == {S.SUPPRESSED}
