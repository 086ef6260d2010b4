"""Kinds, tags and routing: each kind goes to its routed account unless an account is
named, an account takes only its kinds and templates, and tags and metadata are stored
and reach signal receivers; bad ones are refused before anything is written."""

import datetime as dt

import pytest

from django_xunchen import send_sms
from django_xunchen.exceptions import (
    InvalidAccountChoiceError,
    InvalidKindError,
    InvalidTemplateParamsError,
    XunchenValidationError,
)
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)


S = Message.Status
CODE_BODY = "您的验证码为@1@，请及时输入。"


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
