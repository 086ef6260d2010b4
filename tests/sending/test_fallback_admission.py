"""admission.may_route(): whether claimed rows may go out through a fallback account. The
rules once more, with that account's own policy (consent, quiet hours, learned words,
daily cap, monthly cap with its price and its parts), not the rows' own account's; the
suppression list by the rows' kind; an expiry reached at that very moment; and, within
one dispatch, each account's words read once, a code's never."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import policy
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message, Suppression
from django_xunchen.sending import admission

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
MOBILE = "13800138000"
NOW = dt.datetime(2026, 12, 2, 22, 0, tzinfo=CHINA_TZ)
WORD = "特价"
#: 67 characters: one part without a signature, two with a four-character one.
LONG = "上新" + "好" * 61 + "回T退订"


@pytest.fixture
def backup(settings):
    """``configure(**settings)``: ``default`` keeps the lenient test settings (no quiet
    hours, no caps, no consent needed); ``backup`` takes the policy a test gives it."""

    def configure(**own):
        settings.XUNCHEN = {
            **settings.XUNCHEN,
            "ACCOUNTS": {
                "default": {"BACKEND": LOCMEM},
                "backup": {"BACKEND": LOCMEM, "USERNAME": "B1", **own},
            },
        }

    configure()
    return configure


def claimed(count=1, *, kind="marketing", content="上新回T退订", mobile=MOBILE, **fields):
    """Rows of one request, claimed on their own account (``default``) at NOW."""
    return [
        Message.objects.create(
            mobile=mobile,
            content=content,
            kind=kind,
            status=S.SENDING,
            requested_at=NOW,
            **fields,
        )
        for _ in range(count)
    ]


def sent_earlier_today():
    Message.objects.create(
        mobile=MOBILE,
        content="早上的",
        kind="marketing",
        status=S.SENT,
        requested_at=NOW - dt.timedelta(hours=12),
        msgid="earlier",
    )


def learned_on_backup():
    policy.learn_blocked_words("backup", [WORD], source=None)


CAP = {"PRICE_PER_PART": "1", "MONTHLY_CAP": "1.5"}


@pytest.mark.parametrize(
    ("own", "before", "rows"),
    [
        pytest.param({"REQUIRE_CONSENT": True}, None, {}, id="consent"),
        pytest.param({"QUIET_HOURS": ("21:00", "08:00")}, None, {}, id="quiet hours"),
        pytest.param({}, learned_on_backup, {"content": f"会员日{WORD}"}, id="learned word"),
        pytest.param({"MARKETING_DAILY_CAP": 1}, sent_earlier_today, {}, id="daily cap"),
        pytest.param(CAP, None, {"count": 2}, id="monthly cap: its price per part"),
        pytest.param(
            {**CAP, "SIGNATURE": "【商城】"}, None, {"content": LONG}, id="monthly cap: its parts"
        ),
    ],
)
def test_a_fallback_s_own_policy_decides(backup, own, before, rows):
    """Each case: ``default`` would take the rows; ``backup``, by its own rule, may not."""
    backup(**own)
    with time_machine.travel(NOW, tick=False):
        if before is not None:
            before()
        moving = claimed(**rows)
        assert admission.may_route(moving, "default", NOW)
        assert not admission.may_route(moving, "backup", NOW)


def test_within_the_monthly_cap_a_fallback_may_take_the_rows(backup):
    """The counterpart of the cases above: one part at 1 fits a cap of 1.5."""
    backup(**CAP)
    with time_machine.travel(NOW, tick=False):
        assert admission.may_route(claimed(), "backup", NOW)


def test_the_daily_cap_counts_the_day_of_the_moment_judged(backup):
    """Judged for a moment of yesterday (the clock is a day on), the message sent
    yesterday counts: the day is the moment's, not the clock's."""
    backup(MARKETING_DAILY_CAP=1)
    with time_machine.travel(NOW, tick=False):
        sent_earlier_today()
        moving = claimed()
    with time_machine.travel(NOW + dt.timedelta(days=1), tick=False):
        assert not admission.may_route(moving, "backup", NOW)
        assert admission.may_route(moving, "backup", NOW + dt.timedelta(days=1))


@pytest.mark.parametrize(
    ("own", "before"),
    [
        pytest.param({"QUIET_HOURS": ("21:00", "08:00")}, None, id="quiet hours"),
        pytest.param({"MARKETING_DAILY_CAP": 1}, sent_earlier_today, id="daily cap"),
    ],
)
def test_rows_the_gateway_holds_until_tomorrow_are_judged_for_tomorrow(backup, own, before):
    """At 22:00 rows scheduled for 10:00 tomorrow are not in the fallback's quiet hours,
    and today's message does not count against their day's cap."""
    backup(**own)
    tomorrow = NOW + dt.timedelta(hours=12)
    with time_machine.travel(NOW, tick=False):
        if before is not None:
            before()
        assert not admission.may_route(claimed(), "backup", NOW)
        assert admission.may_route(claimed(send_at=tomorrow), "backup", NOW)


def test_the_rows_own_claim_does_not_count_against_the_daily_cap(backup):
    backup(MARKETING_DAILY_CAP=1)
    with time_machine.travel(NOW, tick=False):
        assert admission.may_route(claimed(), "backup", NOW)


@pytest.mark.parametrize(
    ("kind", "allowed"), [("marketing", False), ("notification", True)], ids=["marketing", "notice"]
)
def test_a_number_off_marketing_stops_a_marketing_fallback_only(backup, kind, allowed):
    policy.suppress(MOBILE, scope=Suppression.Scope.MARKETING, source=Suppression.Source.STAFF)
    with time_machine.travel(NOW, tick=False):
        assert admission.may_route(claimed(kind=kind), "backup", NOW) is allowed


@pytest.mark.parametrize(
    ("lifetime", "allowed"),
    [(dt.timedelta(0), False), (dt.timedelta(seconds=1), True)],
    ids=["expires-now", "expires-in-a-second"],
)
def test_a_row_that_expires_at_that_very_moment_may_not_move(backup, lifetime, allowed):
    with time_machine.travel(NOW, tick=False):
        moving = claimed(2, kind="notification", content="发货了")
        Message.objects.filter(pk=moving[1].pk).update(expires_at=NOW + lifetime)
        moving[1].refresh_from_db()
        assert admission.may_route(moving, "backup", NOW) is allowed


def _word_reads(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len([q for q in ctx.captured_queries if "blockedword" in q["sql"]])


def test_within_one_dispatch_a_fallback_s_words_are_read_once(backup):
    learned_on_backup()
    with time_machine.travel(NOW, tick=False):
        moving = claimed(kind="notification", content="发货了")

        def twice():
            with admission.one_dispatch():
                assert admission.may_route(moving, "backup", NOW)
                assert admission.may_route(moving, "backup", NOW)

        assert _word_reads(twice) == 1


def test_a_code_may_move_whatever_words_the_fallback_refused_and_reads_none(backup):
    """A verification code's text is the site's own: no learned word stops it, and none
    is read for it."""
    learned_on_backup()
    with time_machine.travel(NOW, tick=False):
        moving = claimed(kind="verification", content=f"您的验证码是123456，{WORD}")

        def route():
            with admission.one_dispatch():
                assert admission.may_route(moving, "backup", NOW)

        assert _word_reads(route) == 0


def test_within_one_dispatch_a_word_learned_meanwhile_stops_the_next_route(backup):
    """The words are read once per dispatch, but read again once this process learns
    one: a row is never let through on the words of before."""
    with time_machine.travel(NOW, tick=False):
        moving = claimed(kind="notification", content=f"发货了{WORD}")
        with admission.one_dispatch():
            assert admission.may_route(moving, "backup", NOW)
            learned_on_backup()
            assert not admission.may_route(moving, "backup", NOW)
