"""The monthly spending cap: a send that would take an account's spend this calendar
month over its ``MONTHLY_CAP`` is refused before anything is written, on every path that
writes rows (a send, a resend, a campaign's confirm, the admin's send page and resend
action, a verification code) and a fallback is not routed to an account the rows would
take over it; crossing ``HEALTH["MONTHLY_CAP_WARNING"]`` of the cap raises an alert once,
and ``sms_health`` reports the month's spend against the cap.

The price is 0.1 a part and the cap 1: ten parts a month.
"""

import datetime as dt
import io
import logging
from decimal import Decimal

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from django_xunchen import campaigns, policy, resend, send_sms, signals
from django_xunchen.backends import locmem
from django_xunchen.campaigns import lifecycle
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.exceptions import AccountDisabledError, MonthlyCapError, NotSentError
from django_xunchen.models import (
    Campaign,
    HealthAlert,
    Message,
    Suppression,
    ThrottleEvent,
    VerificationCode,
)
from django_xunchen.operations import alerts
from django_xunchen.operations.checks import check_settings
from django_xunchen.operations.monitoring import Level, run_checks
from django_xunchen.verification.codes import RequestStatus, request_code

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
MOBILE, OTHER, THIRD = "13800138000", "13900139000", "13700137000"
#: Mid-month, midday in Beijing: earlier this month is another day of the same month.
NOW = dt.datetime(2026, 12, 15, 12, 0, tzinfo=CHINA_TZ)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW) as traveller:
        yield traveller


@pytest.fixture
def capped(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "PRICE_PER_PART": "0.1", "MONTHLY_CAP": "1"}


def spent(parts, status=S.DELIVERED, account="default", at=None):
    """A message of ``parts`` parts already written this month (or at ``at``)."""
    row = Message.objects.create(
        mobile=MOBILE, content="earlier", parts=parts, status=status, account=account
    )
    if at is not None:
        Message.objects.filter(pk=row.pk).update(created_at=at)
    return row


# ------------------------------------------------------------------ the month's spend


def test_the_month_s_spend_counts_what_is_or_will_be_billed_this_month(capped, settings):
    for status in (S.QUEUED, S.SENDING, S.SENT, S.DELIVERED, S.UNDELIVERED, S.UNKNOWN):
        spent(1, status)
    for status in (S.SUPPRESSED, S.FAILED, S.CANCELLED, S.EXPIRED):
        spent(5, status)
    spent(2, at=NOW - dt.timedelta(days=10))  # the 5th: this month
    spent(7, at=dt.datetime(2026, 11, 30, 23, 59, tzinfo=CHINA_TZ))  # last month
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "other": {"BACKEND": LOCMEM}},
    }
    spent(9, account="other")
    assert policy.month_spend("default") == Decimal("0.8")
    assert policy.month_spends(["default", "other"]) == {
        "default": Decimal("0.8"),
        "other": Decimal("0.9"),
    }


def test_the_month_is_the_site_s_calendar_month(capped, clock):
    spent(4)
    clock.move_to(dt.datetime(2027, 1, 1, 0, 1, tzinfo=CHINA_TZ))
    assert policy.month_spend("default") == 0, "a new month in Beijing"


# ------------------------------------------------------------------ refused, nothing written


def test_a_send_over_the_cap_is_refused_with_nothing_written(capped, xunchen_outbox):
    spent(9)
    before = Message.objects.count()
    for background in (False, True):
        with pytest.raises(MonthlyCapError) as refused:
            send_sms([MOBILE, OTHER], "您好", fail_silently=True, background=background)
        assert Message.objects.count() == before and not xunchen_outbox
    error = refused.value
    assert (error.account, error.cap, error.spent, error.needed) == (
        "default",
        Decimal("1"),
        Decimal("0.9"),
        Decimal("0.2"),
    )
    assert "nothing was written" in str(error) and "MONTHLY_CAP 1" in str(error)


def test_a_send_up_to_the_cap_passes_and_the_next_one_is_refused(capped, xunchen_outbox):
    spent(9)
    (row,) = send_sms([MOBILE], "您好")
    assert row.status == S.SENT and len(xunchen_outbox) == 1
    with pytest.raises(MonthlyCapError):
        send_sms([OTHER], "您好")
    assert len(xunchen_outbox) == 1


def test_without_a_cap_nothing_is_refused(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "PRICE_PER_PART": "0.1"}
    spent(1000)
    assert send_sms([MOBILE], "您好")[0].status == S.SENT


def test_rows_suppressed_when_written_cost_nothing(capped, xunchen_outbox):
    spent(9)
    Suppression.objects.create(mobile=OTHER, scope=Suppression.Scope.ALL)
    rows = send_sms([MOBILE, OTHER], "您好")
    assert [r.status for r in rows] == [S.SENT, S.SUPPRESSED]
    assert [s.mobiles for s in xunchen_outbox] == [(MOBILE,)]


def test_the_parts_count_not_the_messages(capped, xunchen_outbox):
    spent(8)
    with pytest.raises(MonthlyCapError) as refused:
        send_sms([MOBILE], "长" * 150)  # one message, three parts of 67 characters
    assert refused.value.needed == Decimal("0.3")
    assert Message.objects.count() == 1


def test_a_resend_over_the_cap_is_refused_with_nothing_written(capped, xunchen_outbox):
    original = spent(1, S.FAILED)
    spent(10)
    with pytest.raises(MonthlyCapError):
        resend([original])
    assert Message.objects.count() == 2 and not xunchen_outbox


def stage(numbers):
    campaign = Campaign.objects.create(name="双十二", kind="notification", content="您好")
    body = "".join(f"{n}\n" for n in numbers).encode()
    return campaigns.stage(campaign, io.BytesIO(body), "a.csv")


def test_a_campaign_over_the_cap_is_refused_and_stays_a_draft(capped):
    spent(8)
    campaign = stage([MOBILE, OTHER, THIRD])
    with pytest.raises(campaigns.CampaignError) as refused:
        campaigns.confirm(campaign)
    text = str(refused.value)
    assert "monthly spending cap of 1" in text and "spent 0.8 this month" in text
    assert "costs up to 0.3" in text and "still a draft" in text
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT
    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_campaign_is_counted_across_its_batches(capped, monkeypatch):
    """Each batch alone fits under the cap; the third takes the campaign over it, and
    the two batches written before it are undone."""
    monkeypatch.setattr(lifecycle, "CONFIRM_BATCH", 1)
    spent(8)
    campaign = stage([MOBILE, OTHER, THIRD])
    with pytest.raises(campaigns.CampaignError):
        campaigns.confirm(campaign)
    assert Message.objects.count() == 1
    Suppression.objects.create(mobile=THIRD, scope=Suppression.Scope.ALL)
    assert campaigns.confirm(campaign) == 3, "the third suppressed: two parts, at the cap"
    assert policy.month_spend("default") == Decimal("1.0")


def test_the_admin_send_page_shows_the_refusal_as_a_form_error(capped, admin_client):
    spent(10)
    response = admin_client.post(
        reverse("admin:django_xunchen_message_send"), {"mobiles": MOBILE, "content": "您好"}
    )
    assert response.status_code == 200
    (error,) = response.context["form"].non_field_errors()
    assert "monthly spending cap of 1" in error and "Nothing was written" in error
    assert Message.objects.count() == 1


def test_the_admin_resend_action_says_why_it_did_nothing(capped, admin_client):
    original = spent(1, S.FAILED)
    spent(10)
    response = admin_client.post(
        reverse("admin:django_xunchen_message_changelist"),
        {"action": "resend_selected", ACTION_CHECKBOX_NAME: [original.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "monthly spending cap of 1" in response.content.decode()
    assert Message.objects.count() == 2


def test_a_verification_code_is_refused_cleanly_with_nothing_written(capped, client):
    spent(10)
    result = request_code(MOBILE)
    assert result.status == RequestStatus.FAILED
    assert isinstance(result.error, MonthlyCapError)
    answer = client.post(reverse("django_xunchen:request_code"), {"mobile": OTHER})
    assert answer.status_code == 503 and answer.json()["status"] == "failed"
    assert Message.objects.count() == 1
    assert not VerificationCode.objects.exists() and not ThrottleEvent.objects.exists()


# ------------------------------------------------------------------ fallback


@pytest.fixture
def with_backup(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "PRICE_PER_PART": "0.1",
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "FALLBACK": "backup"},
            "backup": {
                "BACKEND": LOCMEM,
                "USERNAME": "B1",
                "KINDS": ["notification"],
                "MONTHLY_CAP": "1",
            },
        },
    }


def test_a_fallback_goes_to_an_account_under_its_cap(with_backup, xunchen_outbox):
    spent(9, account="backup")
    locmem.fail_next(NotSentError("connection refused"), account="default")
    (row,) = send_sms([MOBILE], "您好", fail_silently=True)
    row.refresh_from_db()
    assert (row.status, row.account) == (S.SENT, "backup")


def test_a_fallback_is_not_routed_to_an_account_the_rows_would_take_over_its_cap(
    with_backup, xunchen_outbox
):
    spent(10, account="backup")
    locmem.fail_next(NotSentError("connection refused"), account="default")
    (row,) = send_sms([MOBILE], "您好", fail_silently=True)
    row.refresh_from_db()
    assert (row.status, row.account) == (S.QUEUED, "default"), row.error_message
    assert not xunchen_outbox


@pytest.mark.parametrize(
    "error",
    [NotSentError("connection refused"), AccountDisabledError("102", "send")],
    ids=["refused", "disabled"],
)
def test_rows_no_fallback_may_take_now_wait_with_their_own_account_s_error(
    with_backup, xunchen_outbox, error
):
    """Back in the queue on their own account, saying why their own account did not
    send them, for the next submit."""
    spent(10, account="backup")
    locmem.fail_next(error, account="default")
    (row,) = send_sms([MOBILE], "您好", fail_silently=True)
    row.refresh_from_db()
    assert (row.status, row.account, row.error_message) == (S.QUEUED, "default", str(error))
    assert str(error) not in ("", "None")


# ------------------------------------------------------------------ health and alerts


def spend_check():
    (found,) = [c for c in run_checks() if c.name == "monthly_spend"]
    return found


def test_sms_health_reports_the_month_s_spend_against_the_cap(capped, settings):
    assert spend_check().level == Level.OK and spend_check().value == 0
    spent(7)
    assert spend_check().level == Level.OK
    spent(1)
    check = spend_check()
    assert (check.level, check.value, check.account) == (Level.WARNING, 0.8, "default")
    assert "spent 0.8 this month of its MONTHLY_CAP 1 (80%)" in check.detail
    spent(2)
    assert spend_check().level == Level.CRITICAL
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"MONTHLY_CAP_WARNING": 0.5}}
    settings.XUNCHEN = {**settings.XUNCHEN, "MONTHLY_CAP": "3"}
    assert spend_check().level == Level.OK, "1 of 3: under half"
    settings.XUNCHEN = {**settings.XUNCHEN, "MONTHLY_CAP": None}
    assert not [c for c in run_checks() if c.name == "monthly_spend"]


def test_the_admin_banner_shows_the_spend_near_the_cap(capped):
    from django_xunchen.templatetags.xunchen_admin import xunchen_poll_banner

    assert "MONTHLY_CAP" not in xunchen_poll_banner()
    spent(9)
    assert "has spent 0.9 this month of its MONTHLY_CAP 1" in xunchen_poll_banner()


@pytest.fixture
def received():
    got = []

    def listen(sender, **kwargs):
        got.append(kwargs["check"])

    signals.health_alert.connect(listen)
    yield got
    signals.health_alert.disconnect(listen)


def test_crossing_the_warning_alerts_once_until_it_is_clear(capped, received, caplog, clock):
    caplog.set_level(logging.ERROR, logger="django_xunchen.health")
    spent(7)
    alerts.watch()
    assert not received and not HealthAlert.objects.filter(active=True).exists()
    spent(1)
    alerts.watch(), alerts.watch()
    assert [(c.name, c.account) for c in received] == [("monthly_spend", "default")]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "monthly_spend:default" in errors[0].getMessage()
    spent(2)  # at the cap: still the same alert
    alerts.watch()
    assert len(received) == 1
    assert HealthAlert.objects.get(key="monthly_spend:default").active
    clock.move_to(dt.datetime(2027, 1, 1, 9, 0, tzinfo=CHINA_TZ))
    alerts.watch()
    assert not HealthAlert.objects.get(key="monthly_spend:default").active, "a new month"
    spent(8)
    alerts.watch()
    assert len(received) == 2


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize("cap", ["-1", "0", "lots", True])
def test_a_bad_monthly_cap_is_a_system_check_error(settings, cap):
    settings.XUNCHEN = {**settings.XUNCHEN, "MONTHLY_CAP": cap}
    found = [e for e in check_settings() if e.id == "django_xunchen.E012"]
    assert len(found) == 1 and "MONTHLY_CAP" in found[0].msg


@pytest.mark.parametrize("fraction", [0, 1.5])
def test_the_warning_is_a_fraction_of_the_cap(settings, fraction):
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"MONTHLY_CAP_WARNING": fraction}}
    found = [e for e in check_settings() if "MONTHLY_CAP_WARNING" in e.msg]
    assert len(found) == 1 and found[0].id == "django_xunchen.E000"
