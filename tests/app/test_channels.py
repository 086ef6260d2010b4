"""Several gateway accounts: kinds, tags, routing, fallback, and polling per login."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_xunchen import get_balances, poll, resend, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    AccountDisabledError,
    InsufficientBalanceError,
    InvalidAccountChoiceError,
    InvalidKindError,
    InvalidTemplateParamsError,
    NotSentError,
    XunchenValidationError,
)
from django_xunchen.fake_gateway import FakeGateway
from django_xunchen.fake_gateway.state import Account
from django_xunchen.models import InboundMessage, Message, PollJournalEntry, Report, Template

pytestmark = pytest.mark.django_db(transaction=True)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
S = Message.Status
CODE_BODY = "您的验证码为@1@，请及时输入。"


@pytest.fixture
def three_accounts(settings):
    """The usual set-up: codes, notices on default, marketing; on the locmem backend."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1"},
            "codes": {"BACKEND": LOCMEM, "USERNAME": "C1"},
            "marketing": {"BACKEND": LOCMEM, "USERNAME": "M1", "FALLBACK": "codes"},
        },
        "ROUTES": {"verification": "codes", "marketing": "marketing"},
        "USERNAME": "",
        "PASSWORD": "",
        "VERY_CODE": "",
    }


@pytest.fixture
def two_logins(settings):
    """A fake gateway with two logins, A (default) and B (codes), polled at once."""
    with FakeGateway(
        accounts=[
            Account(username="A", sender="10690001"),
            Account(username="B", password="pw-b", very_code="vc-b", sender="10690002"),
        ],
        seed=3,
    ) as gw:
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "ACCOUNTS": {"default": gw.account_settings("A"), "codes": gw.account_settings("B")},
            "ROUTES": {"verification": "codes"},
            "TIMEOUT": (2, 2),
        }
        yield gw


# ----------------------------------------------------------------------- kinds, tags


def test_kind_defaults_to_notification_and_is_stored(xunchen_outbox):
    (plain,) = send_sms("13800138000", "您的订单已发货")
    (promo,) = send_sms("13800138000", "新品上市", kind="marketing")
    assert (plain.kind, promo.kind) == ("notification", "marketing")
    assert Message.objects.get(pk=promo.pk).kind == "marketing"


@pytest.mark.parametrize("kind", ["sms", "", None, "Marketing"])
def test_an_unknown_kind_is_refused_before_anything_is_written(xunchen_outbox, kind):
    with pytest.raises(InvalidKindError, match="verification, notification, marketing"):
        send_sms("13800138000", "hi", kind=kind)
    assert not Message.objects.exists() and not xunchen_outbox


def test_tags_and_metadata_are_stored_and_reach_signal_receivers(xunchen_outbox, events):
    send_sms(
        ["13800138000", "13900139000"],
        "双十一大促",
        kind="marketing",
        tags=["promo", "双十一", "promo"],
        metadata={"campaign": 7, "owner": "ops"},
    )
    assert (
        list(Message.objects.values_list("tags", "metadata"))
        == [(["promo", "双十一"], {"campaign": 7, "owner": "ops"})] * 2
    )
    sent = [kw["message"] for name, kw in events if name == "message_sent"]
    assert len(sent) == 2 and all(m.tags == ["promo", "双十一"] for m in sent)
    assert all(m.metadata["campaign"] == 7 for m in sent)


@pytest.mark.parametrize(
    "labels",
    [
        {"tags": "promo"},
        {"tags": [""]},
        {"tags": [3]},
        {"metadata": ["x"]},
        {"metadata": {"t": dt}},
    ],
    ids=["tags string", "blank tag", "int tag", "metadata list", "metadata not json"],
)
def test_bad_tags_or_metadata_are_refused_before_anything_is_written(xunchen_outbox, labels):
    with pytest.raises(XunchenValidationError):
        send_sms("13800138000", "hi", **labels)
    assert not Message.objects.exists() and not xunchen_outbox


# ----------------------------------------------------------------------- routing


def test_each_kind_goes_to_its_routed_account(three_accounts, xunchen_outbox):
    send_sms("13800138000", "您的验证码为 123456", kind="verification")
    send_sms("13800138001", "您的订单已发货")
    send_sms("13800138002", "新品上市", kind="marketing")
    assert [(s.account, s.mobiles) for s in xunchen_outbox] == [
        ("codes", ("13800138000",)),
        ("default", ("13800138001",)),
        ("marketing", ("13800138002",)),
    ]
    assert dict(Message.objects.values_list("mobile", "account")) == {
        "13800138000": "codes",
        "13800138001": "default",
        "13800138002": "marketing",
    }


def test_an_explicit_account_wins_over_the_route(three_accounts, xunchen_outbox, settings):
    settings.XUNCHEN["ACCOUNTS"]["default"]["KINDS"] = ["notification", "verification"]
    (row,) = send_sms("13800138000", "您的验证码为 123456", kind="verification", account="default")
    assert row.account == "default" and xunchen_outbox[0].account == "default"


@pytest.mark.parametrize(
    ("kind", "account", "match"),
    [
        ("marketing", "codes", "may not send marketing"),
        ("notification", "marketing", "may not send notification"),
        ("notification", "nowhere", "no SMS account 'nowhere'"),
        ("notification", "", "non-empty name"),
    ],
)
def test_a_wrong_account_is_refused_before_anything_is_written(
    three_accounts, xunchen_outbox, kind, account, match
):
    with pytest.raises(InvalidAccountChoiceError, match=match):
        send_sms("13800138000", "hi", kind=kind, account=account)
    assert not Message.objects.exists() and not xunchen_outbox


@pytest.mark.parametrize(
    ("kinds", "takes"), [(["verification", "marketing"], "marketing, verification"), ([], "none")]
)
def test_a_refused_kind_is_told_what_the_account_takes_and_how_to_fix_it(
    three_accounts, settings, kinds, takes
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["KINDS"] = kinds
    with pytest.raises(InvalidAccountChoiceError) as info:
        send_sms("13800138000", "hi", kind="notification", account="codes")
    assert str(info.value) == (
        f"account 'codes' may not send notification messages (it takes: {takes}); route "
        "them elsewhere or add 'notification' to XUNCHEN['ACCOUNTS']['codes']['KINDS']"
    )


def test_the_single_account_form_is_the_default_account(xunchen_outbox):
    (row,) = send_sms("13800138000", "hi", kind="verification")
    assert row.account == "default"
    with pytest.raises(InvalidAccountChoiceError, match="only 'default' is configured"):
        send_sms("13800138000", "hi", account="codes")


def test_backend_with_account_replaces_the_class_but_keeps_the_account(
    three_accounts, settings, capsys
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["BACKEND"] = "django_xunchen.backends.xunchen.SMSBackend"
    (row,) = send_sms(
        "13800138000",
        "您的验证码为 123456",
        kind="verification",
        backend="django_xunchen.backends.console.SMSBackend",
    )
    assert row.account == "codes" and row.status == S.SENT
    assert "您的验证码为 123456" in capsys.readouterr().out


def test_templates_belong_to_an_account(three_accounts, xunchen_outbox):
    mine = Template.objects.create(account="codes", template_id="T-1", name="code", body=CODE_BODY)
    Template.objects.create(account="default", template_id="T-1", name="other", body="@1@")
    (row,) = send_sms("13800138000", template="T-1", params={"1": "123456"}, kind="verification")
    assert row.template == mine and row.content == "您的验证码为123456，请及时输入。"
    with pytest.raises(InvalidAccountChoiceError, match="belongs to account 'codes'"):
        send_sms("13800138000", template=mine, params={"1": "1"}, account="default")
    with pytest.raises(InvalidTemplateParamsError, match="for account 'marketing'"):
        send_sms("13800138000", template="T-1", params={"1": "1"}, kind="marketing")


# ----------------------------------------------------------------------- fallback


def test_a_refused_connection_falls_back_and_records_the_account_that_sent(
    settings, refusing_url, events
):
    with FakeGateway(accounts=[Account(username="B")]) as gw:
        primary = {**gw.account_settings("B"), "BASE_URL": refusing_url, "FALLBACK": "backup"}
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "ACCOUNTS": {
                "default": primary,
                "backup": {**gw.account_settings("B"), "KINDS": ["notification"]},
            },
        }
        (row,) = send_sms("13800138000", "您的订单已发货")
        assert (row.status, row.account) == (S.SENT, "backup")
        stored = Message.objects.get(pk=row.pk)
        assert (stored.status, stored.account, stored.msgid) == (S.SENT, "backup", row.msgid)
        assert [s.msgid for s in gw.submissions] == [row.msgid]
        assert [name for name, _ in events] == ["message_sent"]


def test_a_read_timeout_never_falls_back(settings, events):
    with FakeGateway(accounts=[Account(username="A"), Account(username="B")]) as gw:
        settings.XUNCHEN = {
            "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
            "TIMEOUT": (2, 0.3),
            "ACCOUNTS": {
                "default": {**gw.account_settings("A"), "FALLBACK": "backup"},
                "backup": {**gw.account_settings("B"), "KINDS": ["notification"]},
            },
        }
        gw.inject_fault("latency", seconds=1.0)
        (row,) = send_sms("13800138000", "您的订单已发货", fail_silently=True)
        assert (row.status, row.account) == (S.UNKNOWN, "default")
        assert [s.username for s in gw.submissions] == ["A"]  # accepted late, never twice
        assert [r["username"] for r in gw.requests] == ["A"]


@pytest.mark.parametrize(
    "error",
    [
        NotSentError("connection refused"),
        AccountDisabledError("102", "send"),
        InsufficientBalanceError("108", "send"),
    ],
    ids=["refused", "disabled", "no balance"],
)
def test_certainly_not_sent_goes_straight_to_the_fallback(
    three_accounts, settings, xunchen_outbox, events, error
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["KINDS"] = ["verification", "marketing"]
    locmem.fail_next(error, account="marketing")
    rows = send_sms(["13800138000", "13900139000"], "新品上市", kind="marketing")
    assert {(r.status, r.account) for r in rows} == {(S.SENT, "codes")}
    assert [s.account for s in xunchen_outbox] == ["codes"]
    assert [name for name, _ in events] == ["message_sent", "message_sent"]
    assert set(Message.objects.values_list("account", "error_code")) == {("codes", "")}


def test_marketing_never_falls_back_onto_the_codes_account(three_accounts, xunchen_outbox):
    locmem.fail_next(NotSentError("connection refused"), account="marketing")
    (row,) = send_sms("13800138000", "新品上市", kind="marketing", fail_silently=True)
    assert (row.status, row.account) == (S.QUEUED, "marketing")
    assert xunchen_outbox == []
    locmem.fail_next(AccountDisabledError("102", "send"), account="marketing")
    (row,) = send_sms("13800138000", "新品上市", kind="marketing", fail_silently=True)
    assert (row.status, row.account, row.error_code) == (S.FAILED, "marketing", "102")
    assert xunchen_outbox == []


def test_when_the_fallback_fails_too_the_rows_go_back_to_their_account(
    three_accounts, settings, xunchen_outbox
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["KINDS"] = ["verification", "marketing"]
    locmem.fail_next(NotSentError("refused"), times=2)
    (row,) = send_sms("13800138000", "新品上市", kind="marketing", fail_silently=True)
    stored = Message.objects.get(pk=row.pk)
    assert (stored.status, stored.account) == (S.QUEUED, "marketing")
    assert send_queued()["sent"] == 1
    assert [s.account for s in xunchen_outbox] == ["marketing"]


def test_a_template_message_falls_back_only_to_the_same_template(
    three_accounts, settings, xunchen_outbox
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["KINDS"] = ["verification", "marketing"]
    mine = Template.objects.create(
        account="marketing", template_id="P-1", name="p", body="@1@折，回T退订"
    )
    locmem.fail_next(NotSentError("refused"), account="marketing")
    (row,) = send_sms(
        "13800138000", template="P-1", params={"1": "5"}, kind="marketing", fail_silently=True
    )
    assert (row.status, row.account) == (S.QUEUED, "marketing")
    assert xunchen_outbox == []

    theirs = Template.objects.create(
        account="codes", template_id="P-1", name="p", body="@1@折，回T退订"
    )
    locmem.fail_next(NotSentError("refused"), account="marketing")
    (row,) = send_sms("13800138000", template=mine, params={"1": "5"}, kind="marketing")
    stored = Message.objects.get(pk=row.pk)
    assert (stored.status, stored.account, stored.template) == (S.SENT, "codes", theirs)
    assert xunchen_outbox[0].request.template_id == "P-1"


def test_a_template_message_that_fails_on_the_fallback_too_keeps_its_own_template(
    three_accounts, settings, xunchen_outbox
):
    settings.XUNCHEN["ACCOUNTS"]["codes"]["KINDS"] = ["verification", "marketing"]
    mine = Template.objects.create(
        account="marketing", template_id="P-1", name="p", body="@1@折，回T退订"
    )
    Template.objects.create(account="codes", template_id="P-1", name="p", body="@1@折，回T退订")
    locmem.fail_next(NotSentError("refused"), times=2)
    (row,) = send_sms(
        "13800138000", template=mine, params={"1": "5"}, kind="marketing", fail_silently=True
    )
    stored = Message.objects.get(pk=row.pk)
    assert (stored.status, stored.account, stored.template) == (S.QUEUED, "marketing", mine)
    assert xunchen_outbox == []


# ----------------------------------------------------------------------- resend, queue


def test_a_resend_goes_out_on_the_original_account(three_accounts, xunchen_outbox):
    (original,) = send_sms("13800138000", "新品上市", kind="marketing", tags=["t"])
    (codes,) = send_sms("13800138001", "您的验证码为 1", kind="verification")
    created, skipped = resend([original, codes])
    assert skipped == []
    assert [(m.account, m.kind, m.tags) for m in created] == [
        ("marketing", "marketing", ["t"]),
        ("codes", "verification", []),
    ]
    assert [s.account for s in xunchen_outbox[2:]] == ["marketing", "codes"]


def test_a_message_of_an_account_no_longer_configured_is_not_resent(three_accounts):
    (original,) = send_sms("13800138000", "新品上市", kind="marketing")
    Message.objects.filter(pk=original.pk).update(account="gone")
    original.refresh_from_db()
    assert resend([original]) == ([], [original])


def test_send_queued_sends_each_row_on_its_account(three_accounts, xunchen_outbox):
    for kind in ("verification", "marketing", "notification"):
        locmem.fail_next(NotSentError("refused"))
        send_sms("13800138000", f"{kind} text", kind=kind, fail_silently=True)
    assert set(Message.objects.values_list("status", flat=True)) == {S.QUEUED}
    assert send_queued()["sent"] == 3
    assert sorted(s.account for s in xunchen_outbox) == ["codes", "default", "marketing"]


# ----------------------------------------------------------------------- polling


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


# ----------------------------------------------------------------------- balance


def test_balance_per_account(two_logins, capsys):
    two_logins.state.accounts["B"].balance = Decimal("12")
    balances = get_balances()
    assert list(balances) == ["default", "codes"]
    assert str(balances["codes"].amount) == "12"
    call_command("sms_balance")
    out = capsys.readouterr().out
    assert "default: balance 5000" in out and "codes: balance 12" in out
    two_logins.state.accounts["B"].enabled = False
    with pytest.raises(CommandError, match="codes"):
        call_command("sms_balance")
    call_command("sms_balance", "--account", "default")


def test_the_send_sms_command_takes_kind_and_account(three_accounts, xunchen_outbox):
    call_command("send_sms", "--to", "13800138000", "--content", "码 1", "--kind", "verification")
    call_command("send_sms", "--to", "13800138000", "--content", "hi", "--account", "default")
    assert [s.account for s in xunchen_outbox] == ["codes", "default"]
    with pytest.raises(CommandError, match="may not send notification"):
        call_command("send_sms", "--to", "13800138000", "--content", "hi", "--account", "codes")
