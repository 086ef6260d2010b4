"""One admission step on every path: each rule that can refuse or hold a message is
applied when its row is written and again when it is submitted, whichever path submits.

The paths: a send, a background send, a campaign's confirm and its resume, a resend,
``send_queued``, the tick, and a send that goes out through a fallback account. The rules:
suppression, consent (every account requires it; the number's grant is withdrawn), quiet
hours, the daily cap, expiry (on the paths that take one), and a word the gateway
refused. "At write" puts the rule in force before the path writes its row;
"at submit" puts it in force after the row was written, just before it is submitted.
"""

import abc
import datetime as dt
import io

import pytest
import time_machine

from django_xunchen import campaigns, policy, resend, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.campaigns import lifecycle
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.consent import grant_consent, withdraw_consent
from django_xunchen.exceptions import (
    InvalidSendTimeError,
    LearnedBlockedWordsError,
    NotSentError,
)
from django_xunchen.models import Campaign, Message, Suppression
from django_xunchen.sending import admission

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
TASKS_MODULE = "django.tasks" if __import__("django").VERSION >= (6,) else "django_tasks"
MOBILE = "13800138000"
OTHER = "13900139000"
WORD = "特价"
TEXT = f"会员日{WORD}五折"


def beijing(hour, minute=0, day=2):
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=CHINA_TZ)


WRITE_AT = beijing(20, 50)
QUIET = beijing(21, 30)
QUIET_ENDS = beijing(8, day=3)


@pytest.fixture
def rules(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "QUIET_HOURS": ("21:00", "08:00"),
        "MARKETING_DAILY_CAP": 1,
        "REQUIRE_CONSENT": True,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "FALLBACK": "backup"},
            "backup": {"BACKEND": LOCMEM, "USERNAME": "B1", "KINDS": ["marketing"]},
        },
    }
    for number in (MOBILE, OTHER):
        grant_consent(number, at=WRITE_AT - dt.timedelta(days=1))


def deferred_tasks(settings):
    from django_xunchen.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend",
            "QUEUES": ["default", "sms-codes"],
        }
    }
    task_backends["default"].clear()


def clock_now():
    from django.utils import timezone

    return timezone.now()


# ----------------------------------------------------------------------------- rules


class Rule(abc.ABC):
    name = ""
    #: The row's status when the rule came into force after the row was written.
    after_write = S.SUPPRESSED

    @abc.abstractmethod
    def in_force(self, clock, accounts=("default",)):
        """Put the rule in force now."""

    def at_write(self, path):
        """The row's status when the rule was in force before the write, or the
        exception the write raises."""
        return S.SUPPRESSED


class Suppressed(Rule):
    name = "suppression"

    def in_force(self, clock, accounts=("default",)):
        policy.suppress(MOBILE, scope=Suppression.Scope.MARKETING, source=Suppression.Source.STAFF)


class NoConsent(Rule):
    name = "consent"

    def in_force(self, clock, accounts=("default",)):
        withdraw_consent(MOBILE)


class QuietHours(Rule):
    name = "quiet hours"
    after_write = S.QUEUED

    def in_force(self, clock, accounts=("default",)):
        clock.move_to(QUIET)

    def at_write(self, path):
        return S.QUEUED


class DailyCap(Rule):
    name = "daily cap"

    def in_force(self, clock, accounts=("default",)):
        Message.objects.create(
            mobile=MOBILE,
            content="今天的另一条",
            kind="marketing",
            status=S.SENT,
            requested_at=clock_now(),
            msgid="earlier",
        )


class Expiry(Rule):
    name = "expiry"
    after_write = S.EXPIRED

    def in_force(self, clock, accounts=("default",)):
        clock.shift(dt.timedelta(minutes=10))

    def at_write(self, path):
        return InvalidSendTimeError


class Word(Rule):
    name = "learned blocked word"
    after_write = S.FAILED

    def in_force(self, clock, accounts=("default",)):
        for account in accounts:
            policy.learn_blocked_words(account, [WORD], source=None)

    def at_write(self, path):
        return path.refused_word


RULES = [Suppressed(), NoConsent(), QuietHours(), DailyCap(), Expiry(), Word()]


# ----------------------------------------------------------------------------- paths


class Path:
    name = ""
    takes_expiry = True
    is_campaign = False
    accounts = ("default",)
    #: What a word learned before the write gives.
    refused_word: object = LearnedBlockedWordsError

    def prepare(self, settings):
        """What happens before the write."""

    def write(self, expires_at):
        """Write the row (and, on most paths, submit it at once)."""
        send_sms([MOBILE], TEXT, kind="marketing", expires_at=expires_at, fail_silently=True)

    def submit(self, clock):
        """Submit what the write left waiting, on the paths that do it on their own."""

    def row(self):
        return Message.objects.exclude(msgid="earlier").order_by("-pk").first()


class Send(Path):
    name = "send"


class BackgroundSend(Path):
    name = "background send"

    def write(self, expires_at):
        send_sms([MOBILE], TEXT, kind="marketing", expires_at=expires_at, background=True)


class SendQueued(BackgroundSend):
    name = "send_queued"

    def prepare(self, settings):
        deferred_tasks(settings)

    def submit(self, clock):
        send_queued()


class Tick(SendQueued):
    name = "the tick"

    def submit(self, clock):
        from django_xunchen.tasks import tick

        clock.shift(dt.timedelta(minutes=2))  # the tick leaves rows a minute old alone
        tick.call()


class RuleThenRefuse(locmem.SMSBackend):
    """The home account: the rule comes into force while it refuses the request."""

    rule = None

    def send(self, request):
        if RuleThenRefuse.rule is not None:
            rule, clock = RuleThenRefuse.rule
            RuleThenRefuse.rule = None
            rule.in_force(clock, ("default", "backup"))
            raise NotSentError("connection refused")
        return super().send(request)


class Fallback(Path):
    name = "fallback"
    accounts = ("default", "backup")

    def prepare(self, settings):
        accounts = settings.XUNCHEN["ACCOUNTS"]
        settings.XUNCHEN = {
            **settings.XUNCHEN,
            "ACCOUNTS": {**accounts, "default": {**accounts["default"], "BACKEND": HOME}},
        }

    def write(self, expires_at):
        locmem.fail_next(NotSentError("connection refused"), account="default")
        super().write(expires_at)


HOME = f"{__name__}.RuleThenRefuse"


class Resend(Path):
    name = "resend"
    takes_expiry = False
    refused_word = "skipped"

    def prepare(self, settings):
        self.original = Message.objects.create(
            mobile=MOBILE, content=TEXT, kind="marketing", status=S.FAILED, msgid="earlier"
        )

    def write(self, expires_at):
        self.created, self.skipped = resend([self.original])

    def row(self):
        return Message.objects.filter(resent_from=self.original).first()


class CampaignConfirm(Path):
    name = "campaign confirm"
    takes_expiry = False
    is_campaign = True
    refused_word = "blocked when staged"

    def prepare(self, settings):
        campaign = Campaign.objects.create(name="双十二", kind="marketing", content=TEXT)
        self.campaign = campaigns.stage(campaign, io.BytesIO(f"{MOBILE}\n".encode()), "a.csv")

    def write(self, expires_at):
        campaigns.confirm(self.campaign)

    def submit(self, clock):
        """A campaign's rows go out after the confirm (never in it): here by cron."""
        send_queued()


class CampaignResume(CampaignConfirm):
    name = "campaign resume"

    def prepare(self, settings):
        super().prepare(settings)
        self.campaign.send_at = clock_now() + dt.timedelta(minutes=1)
        self.campaign.save()

    def write(self, expires_at):
        campaigns.confirm(self.campaign)
        campaigns.pause(self.campaign)

    def submit(self, clock):
        clock.shift(dt.timedelta(minutes=2))
        campaigns.resume(self.campaign)
        send_queued()


PATHS = [
    Send(),
    BackgroundSend(),
    CampaignConfirm(),
    CampaignResume(),
    Resend(),
    SendQueued(),
    Tick(),
    Fallback(),
]


def _combinations():
    for path in PATHS:
        for rule in RULES:
            if isinstance(rule, Expiry) and not path.takes_expiry:
                continue
            yield pytest.param(path, rule, id=f"{path.name}-{rule.name}")


COMBINATIONS = list(_combinations())


# ----------------------------------------------------------------------------- walks


@pytest.mark.parametrize(("path", "rule"), COMBINATIONS)
def test_each_rule_holds_when_the_row_is_written(
    rules, settings, monkeypatch, xunchen_outbox, path, rule
):
    """The rule stops the row as it is written: it never reaches the submit step."""
    expected = rule.at_write(path)
    real = admission.at_submit
    submitted = []

    def spy(rows, now):
        submitted.extend(r.pk for r in rows)
        return real(rows, now)

    monkeypatch.setattr(admission, "at_submit", spy)
    with time_machine.travel(WRITE_AT, tick=False) as clock:
        if expected == "blocked when staged":
            rule.in_force(clock, path.accounts)
            with pytest.raises(campaigns.CampaignError, match="refused before: " + WORD):
                path.prepare(settings)
            assert not Message.objects.exists()
        else:
            path.prepare(settings)
            rule.in_force(clock, path.accounts)
            expires_at = clock_now() - dt.timedelta(minutes=1) if path.takes_expiry else None
            if not isinstance(rule, Expiry):
                expires_at = clock_now() + dt.timedelta(hours=1) if path.takes_expiry else None
            if isinstance(expected, type):
                with pytest.raises(expected):
                    path.write(expires_at)
                assert path.row() is None, "nothing was written"
            else:
                path.write(expires_at)
                path.submit(clock)
                if expected == "skipped":
                    assert path.skipped == [path.original] and path.row() is None
                else:
                    row = path.row()
                    assert row.status == expected, row.error_message
                    assert row.pk not in submitted, "stopped when written, not when submitted"
                    if isinstance(rule, QuietHours):
                        assert row.hold_until == QUIET_ENDS
    assert not xunchen_outbox, "nothing went out"


@pytest.mark.parametrize(("path", "rule"), COMBINATIONS)
def test_each_rule_holds_when_the_row_is_submitted(
    rules, settings, monkeypatch, xunchen_outbox, path, rule
):
    real = admission.at_submit
    calls = []
    with time_machine.travel(WRITE_AT, tick=False) as clock:
        path.prepare(settings)
        if isinstance(path, Fallback):
            # Between the home account's refusal and the fallback: the rules once more.
            RuleThenRefuse.rule = (rule, clock)
            calls.append("fallback")
        else:

            def rule_comes_into_force_first(rows, now):
                if not calls:
                    calls.append(rows)
                    rule.in_force(clock, path.accounts)
                    now = clock_now()
                return real(rows, now)

            monkeypatch.setattr(admission, "at_submit", rule_comes_into_force_first)
        lifetime = dt.timedelta(minutes=5 if isinstance(rule, Expiry) else 24 * 60)
        path.write(clock_now() + lifetime if path.takes_expiry else None)
        path.submit(clock)
        assert calls, "the path submitted"
        if isinstance(path, Fallback):
            assert RuleThenRefuse.rule is None, "the home account was tried"
            assert not xunchen_outbox, "the fallback did not take it"
            assert path.row().status in (S.QUEUED, rule.after_write), "not sent"
            send_queued()
        row = path.row()
        assert row.status == rule.after_write, row.error_message
        if isinstance(rule, QuietHours):
            assert row.hold_until == QUIET_ENDS
        if isinstance(rule, Word):
            assert WORD in row.error_message
    assert not xunchen_outbox, "nothing went out"


def test_without_a_rule_every_path_sends(rules, settings, xunchen_outbox):
    """The walks above are not vacuous: with no rule in force, each path sends."""
    for path in PATHS:
        locmem.reset()
        Message.objects.all().delete()
        with time_machine.travel(WRITE_AT, tick=False) as clock:
            path.prepare(settings)
            path.write(clock_now() + dt.timedelta(hours=1) if path.takes_expiry else None)
            path.submit(clock)
        assert path.row().status == S.SENT, path.name
        assert [s.mobiles for s in locmem.outbox] == [(MOBILE,)], path.name


def test_marketing_left_queued_by_a_refused_connection_waits_for_the_end_of_quiet_hours(
    rules, xunchen_outbox
):
    with time_machine.travel(beijing(20, 58), tick=False) as clock:
        locmem.fail_next(NotSentError("connection refused"), times=2)
        (row,) = send_sms([MOBILE], TEXT, kind="marketing", fail_silently=True)
        row.refresh_from_db()
        assert row.status == S.QUEUED
        for moment in (beijing(21, 30), beijing(7, 59, day=3)):
            clock.move_to(moment)
            send_queued()
            assert not xunchen_outbox, moment
        row.refresh_from_db()
        assert (row.status, row.hold_until) == (S.QUEUED, QUIET_ENDS)
        clock.move_to(QUIET_ENDS)
        send_queued()
    row.refresh_from_db()
    assert row.status == S.SENT and len(xunchen_outbox) == 1


def test_the_daily_cap_holds_on_the_campaign_path(rules, xunchen_outbox):
    with time_machine.travel(beijing(10), tick=False):
        send_sms([MOBILE], "今天第一条", kind="marketing")
        campaign = Campaign.objects.create(name="双十二", kind="marketing", content="第二条")
        data = f"{MOBILE}\n13900139000\n".encode()
        campaigns.confirm(campaigns.stage(campaign, io.BytesIO(data), "a.csv"))
        send_queued()
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("mobile", "status"))
    assert statuses == {MOBILE: S.SUPPRESSED, OTHER: S.SENT}
    assert [s.mobiles for s in xunchen_outbox] == [(MOBILE,), (OTHER,)]


def test_a_fallback_its_own_quiet_hours_hold_back_leaves_the_rows_queued(rules, settings):
    """The home account refuses (no balance); the fallback is in its own quiet hours: the
    rows are not failed with the home account's error but wait in the queue."""
    from django_xunchen.exceptions import gateway_error

    accounts = settings.XUNCHEN["ACCOUNTS"]
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            **accounts,
            "backup": {**accounts["backup"], "QUIET_HOURS": ("20:00", "08:00")},
        },
    }
    with time_machine.travel(beijing(20, 30), tick=False):
        locmem.fail_next(gateway_error("send", "108"), account="default")
        (row,) = send_sms([MOBILE], TEXT, kind="marketing", fail_silently=True)
    row.refresh_from_db()
    assert (row.status, row.account) == (S.QUEUED, "default"), row.error_message
    assert not locmem.outbox


def test_quiet_hours_at_submit_never_shorten_a_pause(rules):
    """Rows read before staff paused their campaign reach the submit step in quiet hours:
    their hold stays the pause's, not the end of the quiet hours."""
    with time_machine.travel(beijing(20, 50), tick=False) as clock:
        (row,) = send_sms([MOBILE], TEXT, kind="marketing", background=False, send_at=None)
        Message.objects.filter(pk=row.pk).update(status=S.QUEUED)
        row.refresh_from_db()
        Message.objects.filter(pk=row.pk).update(hold_until=lifecycle.PAUSED)
        clock.move_to(QUIET)
        assert admission.at_submit([row], clock_now()) == []
    row.refresh_from_db()
    assert row.hold_until == lifecycle.PAUSED


def test_the_cap_at_write_counts_no_cancelled_or_expired_message(rules, xunchen_outbox):
    with time_machine.travel(beijing(10), tick=False):
        for status in (S.CANCELLED, S.EXPIRED):
            Message.objects.create(mobile=MOBILE, content="x", kind="marketing", status=status)
        (row,) = send_sms([MOBILE], TEXT, kind="marketing")
    assert row.status == S.SENT
