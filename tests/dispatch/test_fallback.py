"""Fallback accounts: when a request goes to the fallback (a refused connection, a request
certainly not sent) and when never (a read timeout, marketing onto the codes account),
the same template on the fallback, loops, and an account found down stays down for
the rest of the send."""

import logging

import pytest

from django_xunchen import send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    AccountDisabledError,
    InsufficientBalanceError,
    NotSentError,
)
from django_xunchen.fake_gateway import FakeGateway
from django_xunchen.fake_gateway.state import Account
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
DUMMY = "django_xunchen.backends.dummy.SMSBackend"
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
N, M = "13800138000", "13800138001"


# ------------------------------------------------------------------ where a fallback goes


def test_fallbacks_stop_at_a_loop_and_at_an_account_no_longer_configured(settings):
    from django_xunchen.dispatch.fallback import fallbacks

    notices = {"KINDS": ["notification"]}
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "FALLBACK": "backup"},
            "backup": {"BACKEND": LOCMEM, "USERNAME": "B", "FALLBACK": "default", **notices},
            "third": {"BACKEND": LOCMEM, "USERNAME": "C", "FALLBACK": "gone", **notices},
            "x": {"BACKEND": LOCMEM, "USERNAME": "X", "FALLBACK": "y", **notices},
            "y": {"BACKEND": LOCMEM, "USERNAME": "Y", "FALLBACK": "z", **notices},
            "z": {"BACKEND": LOCMEM, "USERNAME": "Z", "FALLBACK": "y", **notices},
        },
    }
    assert fallbacks("default", "notification", None) == [("backup", None)]
    assert fallbacks("backup", "notification", None) == [("default", None)]
    assert fallbacks("third", "notification", None) == []
    assert fallbacks("x", "notification", None) == [("y", None), ("z", None)]


def test_a_template_falls_back_only_to_an_active_one_of_the_same_vendor_id_and_text(settings):
    from django_xunchen.dispatch.fallback import fallbacks

    notices = {"KINDS": ["notification"]}
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "FALLBACK": "b"},
            "b": {"BACKEND": LOCMEM, "USERNAME": "B", "FALLBACK": "c", **notices},
            "c": {"BACKEND": LOCMEM, "USERNAME": "C", "FALLBACK": "d", **notices},
            "d": {"BACKEND": LOCMEM, "USERNAME": "D", "FALLBACK": "e", **notices},
            "e": {"BACKEND": LOCMEM, "USERNAME": "E", **notices},
        },
    }
    body = "您的订单@1@已发货"
    mine = Template.objects.create(template_id="T-1", name="t", body=body)
    Template.objects.create(account="b", template_id="T-2", name="t", body=body)
    Template.objects.create(account="c", template_id="T-1", name="t", body="订单@1@已发货")
    Template.objects.create(account="d", template_id="T-1", name="t", body=body, is_active=False)
    theirs = Template.objects.create(account="e", template_id="T-1", name="t", body=body)
    assert fallbacks("default", "notification", mine) == [("e", theirs)]


def test_a_fallback_uses_the_backend_the_send_was_given(settings, xunchen_outbox):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import NotSentError

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BACKEND": DUMMY,
        "ACCOUNTS": {
            "default": {"FALLBACK": "backup"},
            "backup": {"USERNAME": "B", "KINDS": ["notification"]},
        },
    }
    locmem.fail_next(NotSentError("refused"), account="default")
    (row,) = send_sms(N, "您好", backend=LOCMEM)
    assert row.account == "backup"
    assert [s.account for s in xunchen_outbox] == ["backup"]


# ------------------------------------------------- an account found down stays down


@pytest.fixture
def backed_up(settings):
    """``default`` and ``b`` both fall back to ``c``; one request at a time, in order."""
    notices = {"BACKEND": LOCMEM, "KINDS": ["notification"], "CONCURRENCY": 1}
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {**notices, "FALLBACK": "c"},
            "b": {**notices, "USERNAME": "B", "FALLBACK": "c"},
            "c": {**notices, "USERNAME": "C"},
        },
    }


def test_once_an_account_certainly_failed_the_rest_of_the_send_goes_to_its_fallback(
    backed_up, settings, xunchen_outbox, caplog
):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import NotSentError

    settings.XUNCHEN["BATCH_SIZE"] = 1
    locmem.fail_next(NotSentError("refused"), account="default")
    with caplog.at_level(logging.WARNING, logger="django_xunchen"):
        rows = send_sms([N, M], "您好")
    assert [(r.status, r.account) for r in rows] == [(S.SENT, "c"), (S.SENT, "c")]
    assert [s.account for s in xunchen_outbox] == ["c", "c"]
    assert [r.getMessage() for r in caplog.records] == [
        "SMS request certainly not sent on account 'default' (refused); trying the fallback"
    ]


def test_a_fallback_found_down_is_not_tried_again_in_the_same_send(
    backed_up, settings, xunchen_outbox
):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import NotSentError

    for account in ("default", "c", "b"):
        locmem.fail_next(NotSentError("refused"), account=account)
    Message.objects.create(mobile=N, content="您好")
    Message.objects.create(mobile=M, content="您好", account="b")
    send_queued()
    assert xunchen_outbox == []
    assert list(Message.objects.order_by("pk").values_list("status", "account")) == [
        (S.QUEUED, "default"),
        (S.QUEUED, "b"),
    ]


def test_an_account_whose_fallbacks_went_down_too_is_tried_once_more(backed_up, xunchen_outbox):
    """``default`` fails and ``c`` takes its first request; then ``b`` and ``c`` fail on
    ``b``'s. With every route down, ``default``'s next request goes to ``default`` itself
    rather than nowhere."""
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import NotSentError
    from django_xunchen.signals import message_sent

    def then_c_goes_down(sender, message, **kwargs):
        if message.account == "c":
            locmem.fail_next(NotSentError("refused"), account="b")
            locmem.fail_next(NotSentError("refused"), account="c")

    locmem.fail_next(NotSentError("refused"), account="default")
    first = Message.objects.create(mobile=N, content="甲")
    second = Message.objects.create(mobile=M, content="乙", account="b")
    third = Message.objects.create(mobile="13800138002", content="丙")
    message_sent.connect(then_c_goes_down)
    try:
        send_queued()
    finally:
        message_sent.disconnect(then_c_goes_down)
    assert [s.account for s in xunchen_outbox] == ["c", "default"]
    for row in (first, second, third):
        row.refresh_from_db()
    assert [(r.status, r.account) for r in (first, second, third)] == [
        (S.SENT, "c"),
        (S.QUEUED, "b"),
        (S.SENT, "default"),
    ]


def test_an_account_that_certainly_failed_stops_its_own_requests_only(settings, xunchen_outbox):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import NotSentError

    notices = {"BACKEND": LOCMEM, "KINDS": ["notification"], "CONCURRENCY": 1}
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BATCH_SIZE": 1,
        "ACCOUNTS": {"default": notices, "b": {**notices, "USERNAME": "B"}},
    }
    locmem.fail_next(NotSentError("refused"), account="default")
    for mobile, account in [(N, "default"), (M, "default"), ("13800138002", "b")]:
        Message.objects.create(mobile=mobile, content="您好", account=account)
    outcome = send_queued()
    assert (outcome["sent"], [s.account for s in xunchen_outbox]) == (1, ["b"])
    assert list(Message.objects.order_by("pk").values_list("status", "attempts")) == [
        (S.QUEUED, 1),
        (S.QUEUED, 0),
        (S.SENT, 1),
    ]


# ------------------------------------------------------------------ what falls back


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


def test_the_fallbacks_are_tried_in_turn_until_one_sends(settings, xunchen_outbox):
    """``default`` refuses, its fallback ``b`` is certainly not sent: ``b``'s own
    fallback ``c`` takes the rows."""
    notices = {"KINDS": ["notification"]}
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "FALLBACK": "b"},
            "b": {"BACKEND": LOCMEM, "USERNAME": "B", "FALLBACK": "c", **notices},
            "c": {"BACKEND": LOCMEM, "USERNAME": "C", **notices},
        },
    }
    locmem.fail_next(AccountDisabledError("102", "send"), account="default")
    locmem.fail_next(NotSentError("connection refused"), account="b")
    rows = send_sms([N, M], "您的订单已发货")
    assert {(r.status, r.account) for r in rows} == {(S.SENT, "c")}
    assert [s.account for s in xunchen_outbox] == ["c"]
