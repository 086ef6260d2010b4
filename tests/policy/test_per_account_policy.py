"""Policy on each account: the suppression list, the daily cap, the price per part, quiet
hours, the footer and the signature are the account's own."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import resend, send_sms
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
N, M = "13800138000", "13800138001"


@pytest.fixture
def shop(settings):
    """Notices on ``default``; marketing on ``mkt``, with its own cap, price and
    signature (``default`` has none of them). The day starts at 10:00, outside the
    quiet hours, whenever the tests run."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1"},
            "mkt": {
                "BACKEND": LOCMEM,
                "USERNAME": "M1",
                "KINDS": ["marketing"],
                "MARKETING_DAILY_CAP": 1,
                "PRICE_PER_PART": "0.05",
                "SIGNATURE": "【商城】",
                "QUIET_HOURS": ("21:00", "08:00"),
            },
        },
        "ROUTES": {"marketing": "mkt"},
    }
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ), tick=True):
        yield


def test_a_number_off_marketing_is_suppressed_when_written_and_still_gets_notices(
    shop, xunchen_outbox
):
    from django_xunchen.policy.suppression import suppress

    suppress(N, source="staff")
    off, on = send_sms([N, M], "上新", kind="marketing")
    assert (off.status, off.error_message) == (
        S.SUPPRESSED,
        "The number is on the suppression list (staff).",
    )
    assert on.status == S.SENT
    assert send_sms(N, "发货")[0].status == S.SENT


def test_the_daily_cap_is_the_marketing_account_s_and_for_marketing_only(shop, xunchen_outbox):
    assert send_sms(N, "上新", kind="marketing")[0].status == S.SENT
    (capped,) = send_sms(N, "再上新", kind="marketing")
    assert (capped.status, capped.error_message) == (
        S.SUPPRESSED,
        "The number has had its marketing messages for the day the message goes out.",
    )
    assert send_sms(N, "发货")[0].status == S.SENT, "notices are not capped"


def test_the_balance_check_prices_the_account_s_parts(shop, settings, xunchen_outbox):
    """70 characters with the signature make one part; 71 make two, at 0.05 each."""
    from decimal import Decimal

    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import BalanceTooLowError

    settings.XUNCHEN = {**settings.XUNCHEN, "BALANCE_CHECK_ABOVE": 1}
    text = "新" * 62 + "回T退订"  # with its footer, + the 4-character signature: 70, one part
    locmem.balance = locmem.Balance(amount=Decimal("0.10"), messages=2)
    try:
        assert len(send_sms([N, M], text, kind="marketing")) == 2, "0.10 covers exactly 0.10"
        Message.objects.all().delete()
        with pytest.raises(BalanceTooLowError) as refused:
            send_sms([N, M], text + "!", kind="marketing")
    finally:
        locmem.balance = locmem.Balance(amount=Decimal("1000"), messages=10000)
    assert (refused.value.needed, refused.value.available) == (Decimal("0.20"), Decimal("0.10"))
    assert str(refused.value) == (
        "the send costs 0.20 but account 'mkt' has 0.10 left after what is already "
        "queued (balance 0.10); nothing was written"
    )


def test_a_resend_waits_for_its_own_account_s_quiet_hours(shop, xunchen_outbox):
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ), tick=False):
        send_sms(N, "上新", kind="marketing")
    Message.objects.update(status=S.FAILED)
    with time_machine.travel(NIGHT, tick=False):
        ((held,), _) = resend(Message.objects.all())
    assert held.hold_until == dt.datetime(2026, 11, 27, 8, 0, tzinfo=CHINA_TZ)


def test_a_marketing_send_takes_its_own_account_s_quiet_hours_and_footer(
    shop, settings, xunchen_outbox
):
    settings.XUNCHEN["ACCOUNTS"]["mkt"]["QUIET_HOURS"] = ("22:00", "09:00")
    settings.XUNCHEN["ACCOUNTS"]["mkt"]["MARKETING_FOOTER"] = "拒收请回复R"
    with time_machine.travel(NIGHT, tick=False):
        (held,) = send_sms(N, "上新", kind="marketing")
    assert (held.status, held.content) == (S.QUEUED, "上新拒收请回复R")
    assert held.hold_until == dt.datetime(2026, 11, 27, 9, 0, tzinfo=CHINA_TZ)


def test_each_row_counts_its_parts_with_its_own_account_s_signature(shop, xunchen_outbox):
    """67 characters: one part on ``default`` (no signature), two on ``mkt``, whose
    four-character signature makes 71."""
    text = "上新" + "好" * 61 + "回T退订"
    (notice,) = send_sms(N, text)
    (offer,) = send_sms(N, text, kind="marketing")
    assert (notice.parts, offer.parts) == (1, 2)
    assert list(Message.objects.order_by("pk").values_list("parts", flat=True)) == [1, 2]


def test_at_write_the_cap_and_consent_are_the_row_s_own_account_s(shop, settings, xunchen_outbox):
    """Judged when the rows are written, before anything is submitted: ``mkt``'s cap of
    one and its need of consent, which ``default`` has neither of."""
    from django_xunchen.consent import grant_consent
    from django_xunchen.sending import admission

    send_sms(N, "上新", kind="marketing")
    grant_consent(N)
    settings.XUNCHEN["ACCOUNTS"]["mkt"]["REQUIRE_CONSENT"] = True
    capped, unconsented = (
        Message(mobile=mobile, content="上新", kind="marketing", account="mkt") for mobile in (N, M)
    )
    admission.screen([capped, unconsented])
    assert (capped.status, capped.error_message) == (S.SUPPRESSED, admission.CAPPED_TEXT)
    assert (unconsented.status, unconsented.error_message) == (
        S.SUPPRESSED,
        admission.NO_CONSENT_TEXT,
    )


def test_the_claim_itself_asks_for_the_consent_the_row_s_account_needs(shop, settings):
    """A withdrawal between the check at submit and the claim is seen by the claim's own
    statement, with ``mkt``'s need of consent (``default`` has none)."""
    from django.utils import timezone

    from django_xunchen.consent import grant_consent
    from django_xunchen.sending import admission

    settings.XUNCHEN["ACCOUNTS"]["mkt"]["REQUIRE_CONSENT"] = True
    for mobile in (N, M):
        Message.objects.create(mobile=mobile, content="上新", kind="marketing", account="mkt")
    grant_consent(M)
    rows = admission.claimable(Message.objects.all(), "marketing", timezone.now(), "mkt")
    assert list(rows.values_list("mobile", flat=True)) == [M]


def test_marketing_scheduled_into_its_account_s_quiet_hours_is_held_here(shop, xunchen_outbox):
    """Scheduled at 10:00 for 22:30, inside ``mkt``'s quiet hours (``default`` has none):
    held by the app until they end, not handed to the gateway for 22:30, so that an
    opt-out before then still applies."""
    (held,) = send_sms(N, "上新", kind="marketing", send_at=NIGHT)
    held.refresh_from_db()
    assert (held.status, held.send_at) == (S.QUEUED, None)
    assert held.hold_until == dt.datetime(2026, 11, 27, 8, 0, tzinfo=CHINA_TZ)
    assert not xunchen_outbox


def test_at_submit_the_daily_cap_is_the_row_s_own_account_s(shop, xunchen_outbox):
    """A row written past the check at write (here: created directly) meets ``mkt``'s cap
    of one at submit, which ``default`` does not have; it says why, and when."""
    from django_xunchen import send_queued
    from django_xunchen.sending import admission

    send_sms(N, "上新", kind="marketing")
    late = Message.objects.create(
        mobile=N, content="再上新回T退订", kind="marketing", account="mkt"
    )
    at = dt.datetime(2026, 11, 26, 11, 0, tzinfo=CHINA_TZ)
    with time_machine.travel(at, tick=False):
        send_queued()
    late.refresh_from_db()
    assert (late.status, late.error_message, late.updated_at) == (
        S.SUPPRESSED,
        admission.CAPPED_TEXT,
        at,
    )
    assert len(xunchen_outbox) == 1
