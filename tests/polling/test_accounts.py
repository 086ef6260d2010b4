"""Polling several gateway accounts: each account's lock, result and poll state of its own,
an account that cannot be built or fails named without stopping the others, and a
login shared by two settings names polled once."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.fake_gateway import FakeGateway
from django_xunchen.models import InboundMessage, Message, PollJournalEntry, Report
from django_xunchen.polling.accounts import lock_name_for
from django_xunchen.polling.result import PollResult

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def test_the_summary_of_several_accounts_one_line_each():
    result = PollResult()
    result.accounts = {"a": PollResult(), "b": PollResult()}
    result.spooled = 2
    assert result.summary().splitlines() == [
        "a: " + PollResult().summary(),
        "b: " + PollResult().summary(),
        "applied 2 spooled send outcomes",
    ]


def test_the_default_account_s_lock():
    assert lock_name_for() == lock_name_for("default")


def test_results_of_several_accounts_add_up_and_say_whose_each_line_is():
    total = PollResult()
    total.add(
        "a",
        PollResult(skipped=["reports"], errors=["boom"], locked_by="host-1", reports=2),
        several=True,
    )
    total.add("b", PollResult(skipped=["replies"], errors=["bang"], reports=3), several=True)
    assert (total.skipped, total.errors) == (["a: reports", "b: replies"], ["a: boom", "b: bang"])
    assert (total.reports, total.locked_by, list(total.accounts)) == (5, None, ["a", "b"])


def test_the_result_of_one_account_is_its_own():
    total = PollResult()
    total.add("a", PollResult(skipped=["reports"], errors=["boom"], locked_by="host-1"), False)
    assert (total.skipped, total.errors, total.locked_by) == (["reports"], ["boom"], "host-1")


def test_an_account_that_cannot_be_built_is_named_and_the_others_are_polled(
    settings, xunchen_outbox
):
    from django.core.exceptions import ImproperlyConfigured

    from django_xunchen.polling.accounts import gateway_accounts

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "a_broken": {"BACKEND": "nowhere.SMSBackend", "USERNAME": "X"},
            "default": {"BACKEND": LOCMEM},
            "z_also": {"BACKEND": LOCMEM, "USERNAME": "Z"},
        },
    }
    send_sms("13800138000", "您好")
    locmem.deliver_all()
    result = poll(force=True)
    assert result.reports_matched == 1
    assert list(result.accounts) == ["default", "z_also", "a_broken"]
    (error,) = result.errors
    assert error.startswith("a_broken: cannot import the SMS backend 'nowhere.SMSBackend': ")
    with pytest.raises(ImproperlyConfigured, match="nowhere"):
        gateway_accounts()


def test_poll_uses_the_backend_it_is_given_for_every_account(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "nowhere.SMSBackend"}
    send_sms("13800138000", "您好", backend=LOCMEM)
    locmem.deliver_all()
    result = poll(force=True, backend=LOCMEM)
    assert (result.errors, result.reports_matched) == ([], 1)


def _broken_and(settings, *good):
    accounts = {"a_broken": {"BACKEND": "nowhere.SMSBackend", "USERNAME": "X"}}
    for name in good:
        accounts[name] = {"BACKEND": LOCMEM, "USERNAME": name}
    settings.XUNCHEN = {**settings.XUNCHEN, "ACCOUNTS": accounts}


def test_with_one_good_account_the_broken_one_is_still_named(settings, xunchen_outbox):
    _broken_and(settings, "default")
    result = poll(force=True)
    (error,) = result.errors
    assert error.startswith("a_broken: cannot import the SMS backend")
    assert result.accounts["a_broken"].names == ["a_broken"]
    assert poll().skipped == ["default: delivery reports", "default: replies"], "too soon"
    assert poll(force=True, account="default").errors == [], "polling one account only"


def test_a_single_account_s_error_needs_no_name(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "nowhere.SMSBackend"}
    (error,) = poll(force=True).errors
    assert error.startswith("cannot import the SMS backend 'nowhere.SMSBackend'")


def test_poll_names_an_account_it_does_not_know():
    from django_xunchen.conf import UnknownAccount

    with pytest.raises(UnknownAccount, match=r"^no SMS account 'nope'$"):
        poll(account="nope")


def test_poll_refuses_to_run_inside_a_transaction(settings):
    from django.db import transaction

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "django_xunchen.backends.xunchen.SMSBackend"}
    with pytest.raises(RuntimeError) as refused, transaction.atomic():
        poll(force=True)
    assert str(refused.value) == (
        "poll() must not run inside a transaction: each raw response has to be committed "
        "before it is parsed"
    )


class Crashing(locmem.SMSBackend):
    def fetch_reports(self):
        raise ValueError("boom")


def test_an_unexpected_error_of_one_account_is_told_by_its_type(settings, xunchen_outbox):
    result = poll(force=True, backend=f"{__name__}.Crashing")
    assert result.errors == ["ValueError: boom"]
    assert result.accounts["default"].names == ["default"]


def test_each_account_keeps_its_own_poll_state(settings, xunchen_outbox):
    from django_xunchen.models import PollState

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "b": {"BACKEND": LOCMEM, "USERNAME": "B"}},
    }
    poll(force=True)
    assert PollState.objects.filter(operation="queryReport").count() == 2


def test_a_later_attempt_at_the_same_moment_replaces_the_error(db):
    from django_xunchen.models import PollState
    from django_xunchen.polling.journal import _note_attempt

    at = timezone.now()
    _note_attempt("default", "queryReport", at, "first")
    _note_attempt("default", "queryReport", at, "x" * 2500)
    assert PollState.objects.get().last_error == "x" * 2000


# ------------------------------------------------------------------ several logins


def test_two_accounts_polled_in_the_same_minute_both_ingest(two_logins, settings):
    settings.XUNCHEN["POLL_INTERVAL"] = 180
    send_sms("13800138000", "您的订单已发货")
    send_sms("13900139000", "您的验证码为 1", kind="verification")
    two_logins.inject_reply("13700137000", "退订", username="B")
    result = poll()
    assert result.ok, result.summary()
    assert (result.reports, result.reports_matched, result.inbound) == (2, 2, 1)
    assert set(result.accounts) == {"default", "codes"}
    assert dict(Message.objects.values_list("account", "status")) == {
        "default": S.DELIVERED,
        "codes": S.DELIVERED,
    }
    assert dict(Report.objects.values_list("mobile", "account")) == {
        "13800138000": "default",
        "13900139000": "codes",
    }
    assert InboundMessage.objects.get().account == "codes"
    assert set(PollJournalEntry.objects.values_list("account", flat=True)) == {"default", "codes"}
    again = poll()
    assert again.accounts["default"].skipped and again.accounts["codes"].skipped


def test_two_settings_names_sharing_one_login_poll_once(settings):
    with FakeGateway() as gw:
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "ACCOUNTS": {
                "default": gw.account_settings(),
                "alias": {**gw.account_settings(), "SIGN_INDEX": 1, "KINDS": ["notification"]},
            },
        }
        send_sms("13800138000", "hi")
        send_sms("13900139000", "hi", account="alias")
        result = poll()
        queries = [r["method"] for r in gw.requests if r["method"].startswith("query")]
        assert queries == ["queryReport", "queryMo"]
        assert list(result.accounts) == ["default"] and result.names == ["default", "alias"]
        assert set(Message.objects.values_list("status", flat=True)) == {S.DELIVERED}


def test_the_same_msgid_on_two_accounts_matches_each_to_its_own(three_accounts):
    now = dt.datetime.now(dt.timezone.utc)
    mine = Message.objects.create(
        mobile="13800138000",
        content="a",
        account="default",
        msgid="42",
        status=S.SENT,
        submitted_at=now,
        extcode="1",
    )
    theirs = Message.objects.create(
        mobile="13800138000",
        content="b",
        account="codes",
        msgid="42",
        status=S.SENT,
        submitted_at=now,
        extcode="1",
    )
    locmem.queue_report("13800138000", "42", "DELIVRD", account="default")
    locmem.queue_report("13800138000", "42", "MA:0006", account="codes")
    locmem.queue_reply("13800138000", "好的", extcode="1", account="codes")
    poll()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.report_status) == (S.DELIVERED, "DELIVRD")
    assert (theirs.status, theirs.report_status) == (S.UNDELIVERED, "MA:0006")
    assert [r.message for r in Report.objects.filter(account="codes")] == [theirs]
    assert InboundMessage.objects.get().message == theirs


def test_an_orphan_report_is_matched_only_within_its_account(three_accounts):
    locmem.queue_report("13800138000", "77", account="codes")
    poll()
    other = Message.objects.create(
        mobile="13800138000", content="a", account="default", msgid="77", status=S.SENT
    )
    poll()
    assert Report.objects.get().message is None
    mine = Message.objects.create(
        mobile="13800138000", content="b", account="codes", msgid="77", status=S.SENT
    )
    assert poll().rematched == 1
    assert Report.objects.get().message == mine
    other.refresh_from_db()
    assert other.status == S.SENT


def test_one_account_failing_does_not_stop_the_others(two_logins, settings, capsys):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["PASSWORD"] = "wrong"
    send_sms("13800138000", "您的订单已发货")
    result = poll()
    assert not result.ok
    assert result.accounts["default"].ok and result.reports_matched == 1
    assert all(e.startswith("codes: ") for e in result.errors)
    with pytest.raises(CommandError) as failed:
        call_command("poll_sms", "--force")
    assert "codes:" in str(failed.value) and "default:" in str(failed.value)
    call_command("poll_sms", "--force", "--account", "default")
    assert "reports" in capsys.readouterr().out


def test_each_gateway_account_has_its_own_lock(two_logins):
    from django_xunchen.polling.accounts import lock_name_for
    from django_xunchen.polling.locks import DatabaseLock

    assert lock_name_for("default") != lock_name_for("codes")
    send_sms("13800138000", "您的订单已发货")
    send_sms("13900139000", "您的验证码为 1", kind="verification")
    with DatabaseLock(lock_name_for("codes"), owner="other-host:1"):
        result = poll()
    assert result.accounts["codes"].locked_by == "other-host:1"
    assert result.accounts["default"].reports == 1 and result.ok


def test_a_login_s_lock_name_is_the_same_in_every_release(settings):
    """During a deploy a poll of the old code and one of the new must take the same lock:
    the name is pinned, a change to it is a change for every running site."""
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://sms.example.com",
        "USERNAME": "JSM40001",
        "PASSWORD": "p",
        "VERY_CODE": "v",
    }
    assert lock_name_for() == "django_xunchen.poll:747c2334e00306f092e31de7"


def test_health_is_kept_per_gateway_account(two_logins, settings):
    from django_xunchen.operations.health import poll_health

    settings.XUNCHEN["ACCOUNTS"]["codes"]["PASSWORD"] = "wrong"
    poll()
    health = poll_health()
    assert health.last_success[("default", "queryReport")] is not None
    assert health.last_success[("codes", "queryReport")] is None
    assert [p for p in health.stale if "codes" in p] and not [
        p for p in health.stale if "default" in p
    ]


@pytest.mark.parametrize(
    "other",
    [{"BACKEND": LOCMEM, "USERNAME": "Z"}, {"BACKEND": "nowhere.SMSBackend", "USERNAME": "Z"}],
    ids=["beside another account", "beside one that cannot be built"],
)
def test_a_poll_the_database_refuses_names_the_account_it_stopped_at(
    settings, xunchen_outbox, monkeypatch, other
):
    from django.db import OperationalError

    from django_xunchen.polling import fetch

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"BACKEND": LOCMEM}, "z_other": other},
    }

    def refused(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(fetch, "_journal", refused)
    locmem.queue_report("13800138000", "m-1", "DELIVRD")
    result = poll(force=True, inbound=False)
    assert list(result.accounts) == ["default"], "z_other is left for the next poll"
    (error,) = result.errors
    assert error.startswith("default: the database refused to journal a fetched answer")
