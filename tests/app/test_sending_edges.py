"""Sending at its edges: what a resend carries over and when it waits, send_queued's
arguments and the rows it leaves alone, and how long a row may stay ``sending``."""

import datetime as dt
import logging

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import resend, send_queued, send_sms
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.dispatch.claim import STALE_MARGIN, stale_after
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
DUMMY = "django_xunchen.backends.dummy.SMSBackend"


@pytest.fixture
def quiet_hours(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}


def test_a_marketing_resend_at_night_waits_for_the_morning(quiet_hours, xunchen_outbox):
    with time_machine.travel(dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ), tick=False):
        send_sms("13800138000", "上新", kind="marketing", backend=DUMMY)
        send_sms("13800138001", "发货", backend=DUMMY)
    Message.objects.update(status=S.FAILED)
    with time_machine.travel(NIGHT, tick=False):
        created, _ = resend(Message.objects.order_by("pk"))
    held, sent = created
    assert (held.status, held.hold_until) == (
        S.QUEUED,
        dt.datetime(2026, 11, 27, 8, 0, tzinfo=CHINA_TZ),
    )
    assert (sent.status, sent.hold_until) == (S.SENT, None), "a notification is not held"
    assert [s.mobiles for s in xunchen_outbox] == [("13800138001",)]


def test_a_resend_carries_the_parts_tags_and_metadata_over(xunchen_outbox):
    (original,) = send_sms(
        "13800138000", "长" * 80, tags=["orders"], metadata={"order": 7}, backend=DUMMY
    )
    (copy,), _ = resend([Message.objects.get(pk=original.pk)])
    copy.refresh_from_db()
    assert (copy.parts, copy.tags, copy.metadata) == (2, ["orders"], {"order": 7})
    assert copy.parts == original.parts


def test_a_resend_goes_to_the_background_when_the_setting_says_so(settings, xunchen_outbox):
    from django_xunchen.tasks import task_backends

    settings.TASKS = {
        "default": {
            "BACKEND": f"{settings.TASKS_MODULE}.backends.dummy.DummyBackend",
            "QUEUES": ["default", "sms-codes"],
        }
    }
    tasks = task_backends["default"]
    tasks.clear()
    send_sms("13800138000", "a", backend=DUMMY)
    send_sms("13800138001", "您的验证码是 1234", kind="verification", backend=DUMMY)
    send_sms("13800138002", "上新", kind="marketing", backend=DUMMY)
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKGROUND": True}
    created, _ = resend(Message.objects.order_by("pk"))
    assert {m.status for m in created} == {S.QUEUED} and not xunchen_outbox
    enqueued = sorted(
        (r.args[0], r.task.queue_name) for r in tasks.results if r.task.name == "send_messages"
    )
    assert enqueued == [
        ([created[0].pk], "default"),
        ([created[1].pk], "sms-codes"),
        ([created[2].pk], "default"),
    ], "one task per kind, with its own rows"
    tasks.clear()


@pytest.mark.parametrize("idle_for", [0, 0.5, 60])
def test_send_queued_takes_any_idle_time_from_zero(idle_for, xunchen_outbox):
    send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status=S.QUEUED, msgid="")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert send_queued(idle_for=idle_for)["sent"] == 1


def test_send_queued_stamps_the_rows_it_expires(xunchen_outbox):
    (row,) = send_sms(
        "13800138000", "x", backend=DUMMY, expires_at=timezone.now() + dt.timedelta(minutes=5)
    )
    Message.objects.update(status=S.QUEUED)
    later = timezone.now() + dt.timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        assert send_queued()["expired"] == 1
    row.refresh_from_db()
    assert (row.status, row.updated_at) == (S.EXPIRED, later)


def test_send_queued_skips_rows_of_an_account_no_longer_configured(xunchen_outbox):
    send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status=S.QUEUED, account="gone")
    assert send_queued()["claimed"] == 0 and not xunchen_outbox
    assert Message.objects.get().status == S.QUEUED


def test_a_row_may_stay_sending_for_the_longest_deadline_of_any_account(settings):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "REQUEST_DEADLINE": 10,
        "OUTCOME_RETRY_SECONDS": 5,
        "ACCOUNTS": {"default": {}, "slow": {"REQUEST_DEADLINE": 100}},
    }
    assert stale_after() == dt.timedelta(seconds=105) + STALE_MARGIN
    settings.XUNCHEN = {**settings.XUNCHEN, "REQUEST_DEADLINE": None, "ACCOUNTS": {}}
    assert stale_after() == dt.timedelta(seconds=5) + STALE_MARGIN


# ------------------------------------------------------------------ policy on each account

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
        "The number has had its marketing messages for today.",
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


def test_send_queued_uses_the_backend_it_is_given(settings, xunchen_outbox):
    """Every account's configured class is replaced, as for send_sms(backend=...)."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": DUMMY}
    Message.objects.create(mobile=N, content="waiting")
    assert send_queued(backend=LOCMEM)["sent"] == 1
    assert [s.mobiles for s in xunchen_outbox] == [(N,)]


def test_send_queued_reads_each_template_once_whatever_the_rows(settings, xunchen_outbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_xunchen.models import Template

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-1", name="t", body="您好@1@")
    counts = {}
    for rows in (1, 5):
        Message.objects.bulk_create(
            [
                Message(mobile=f"1390000000{i}", template=template, params={"1": str(i)})
                for i in range(rows)
            ]
        )
        with CaptureQueriesContext(connection) as queries:
            assert send_queued()["sent"] == rows
        counts[rows] = len(queries)
    # Each row has its own parameters, so its own request: a claim and an outcome each,
    # and not one query more per row.
    assert counts[5] - counts[1] == 2 * (5 - 1)


def test_send_queued_sends_at_most_10000_by_default():
    import inspect

    assert inspect.signature(send_queued).parameters["limit"].default == 10000


def test_a_dispatch_opens_each_backend_once_and_closes_it(settings):
    from django_xunchen.backends import locmem

    calls = []

    class Recording(locmem.SMSBackend):
        def open(self):
            calls.append("open")

        def close(self):
            calls.append("close")

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.Recording"}
    globals()["Recording"] = Recording
    try:
        assert len(send_sms([f"1380000{i:04d}" for i in range(250)], "三个请求")) == 250
    finally:
        del globals()["Recording"]
    assert calls == ["open", "close"]


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


def test_template_messages_whose_stored_texts_differ_still_go_in_one_request(
    settings, xunchen_outbox
):
    """The gateway renders a template from its id and params: a text stored before the
    template's wording was edited does not split the request."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-1", name="t", body="订单@1@已发货")
    for mobile, text in [(N, "订单42已发货"), ("13900139000", "您的订单42已发货")]:
        Message.objects.create(mobile=mobile, content=text, template=template, params={"1": "42"})
    assert send_queued()["sent"] == 2
    assert [sorted(s.request.mobiles) for s in xunchen_outbox] == [[N, "13900139000"]]


def test_a_masked_row_is_never_sent_from_the_database(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    Message.objects.create(mobile=N, content="验证码 ●●●●●●", kind="verification", masked=True)
    send_queued()
    row = Message.objects.get()
    assert (row.status, row.error_message) == (
        S.FAILED,
        "the stored text has a verification code masked out; it is never sent from the database",
    )
    assert not xunchen_outbox


def test_the_account_s_signature_index_goes_with_each_request(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM, "SIGN_INDEX": 2}
    send_sms(N, "您好")
    assert xunchen_outbox[0].request.sign_index == 2


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


@pytest.mark.parametrize("kind", ["sms", "", "Marketing"])
def test_rows_are_never_prepared_for_an_unknown_kind(settings, kind):
    """prepare_messages is what the admin's form, codes and campaigns build rows with:
    it checks the kind itself, whoever calls it."""
    from django_xunchen.backends import get_backend
    from django_xunchen.exceptions import InvalidKindError
    from django_xunchen.sending.compose import prepare_messages

    expected = f"kind must be one of verification, notification, marketing, not {kind!r}"
    with pytest.raises(InvalidKindError) as info:
        prepare_messages(N, "您好", kind=kind, backend=get_backend(DUMMY))
    assert str(info.value) == expected


def test_an_expiry_at_this_very_moment_or_at_the_send_time_is_refused(xunchen_outbox):
    from django_xunchen.exceptions import InvalidSendTimeError

    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ)
    later = now + dt.timedelta(hours=1)
    with time_machine.travel(now, tick=False):
        with pytest.raises(InvalidSendTimeError, match="has passed"):
            send_sms(N, "您好", expires_at=now, backend=DUMMY)
        with pytest.raises(InvalidSendTimeError, match="not after the send time"):
            send_sms(N, "您好", send_at=later, expires_at=later, backend=DUMMY)
    assert not Message.objects.exists()


# ------------------------------------------------- a send changes its own rows only


MORNING = dt.datetime(2026, 11, 27, 8, 30, tzinfo=CHINA_TZ)


def test_marketing_whose_number_opts_out_while_it_waits_is_suppressed_alone(
    quiet_hours, settings, xunchen_outbox
):
    from django_xunchen.policy.suppression import suppress

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    with time_machine.travel(NIGHT, tick=False):
        (held,) = send_sms(N, "上新", kind="marketing")
    assert held.status == S.QUEUED
    later = MORNING + dt.timedelta(days=2)
    notice = Message.objects.create(mobile=N, content="发货", hold_until=later)
    suppress(N, source="reply")
    with time_machine.travel(MORNING, tick=False):
        send_queued()
    held.refresh_from_db()
    assert (held.status, held.error_message, held.updated_at) == (
        S.SUPPRESSED,
        "The number went on the suppression list before the message was sent.",
        MORNING,
    )
    notice.refresh_from_db()
    assert notice.status == S.QUEUED, "a notice to the same number is not the send's to touch"
    assert xunchen_outbox == []


def test_a_row_another_process_sent_meanwhile_keeps_its_status(settings, xunchen_outbox):
    """dispatch() is handed rows read a moment ago: one of them has since been sent by
    another process, after its number opted out and its expiry passed."""
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch
    from django_xunchen.policy.suppression import suppress

    past = timezone.now() - dt.timedelta(minutes=1)
    rows = [
        Message.objects.create(mobile=N, content="上新", kind="marketing"),
        Message.objects.create(mobile=M, content="上新", kind="marketing", expires_at=past),
    ]
    suppress(N, source="staff")
    Message.objects.update(status=S.SENT)
    dispatch(rows, get_backend(LOCMEM))
    assert set(Message.objects.values_list("status", flat=True)) == {S.SENT}
    assert [r.status for r in rows] == [S.SENT, S.SENT]
    assert xunchen_outbox == []


def test_a_send_expires_its_own_rows_and_no_others(settings, xunchen_outbox):
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch

    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ)
    with time_machine.travel(now - dt.timedelta(hours=1), tick=False):
        mine = Message.objects.create(mobile=N, content="您好", expires_at=now)
        theirs = Message.objects.create(mobile=M, content="您好", expires_at=now)
    with time_machine.travel(now, tick=False):
        dispatch([mine], get_backend(LOCMEM))
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.updated_at) == (S.EXPIRED, now)
    assert theirs.status == S.QUEUED
    assert xunchen_outbox == []


def test_template_rows_group_by_their_params_whatever_order_the_keys_were_stored_in(
    settings, xunchen_outbox
):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    template = Template.objects.create(template_id="T-2", name="t", body="@1@的订单@2@已发货")
    for mobile, params in [(N, {"1": "李", "2": "42"}), (M, {"2": "42", "1": "李"})]:
        Message.objects.create(
            mobile=mobile, content="李的订单42已发货", template=template, params=params
        )
    assert send_queued()["sent"] == 2
    assert [sorted(s.request.mobiles) for s in xunchen_outbox] == [[N, M]]


def test_each_row_counts_its_parts_with_its_own_account_s_signature(shop, xunchen_outbox):
    """67 characters: one part on ``default`` (no signature), two on ``mkt``, whose
    four-character signature makes 71."""
    text = "上新" + "好" * 61 + "回T退订"
    (notice,) = send_sms(N, text)
    (offer,) = send_sms(N, text, kind="marketing")
    assert (notice.parts, offer.parts) == (1, 2)
    assert list(Message.objects.order_by("pk").values_list("parts", flat=True)) == [1, 2]


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


def test_a_send_leaves_its_held_and_suppressed_rows_alone(quiet_hours, settings, xunchen_outbox):
    """No claim is tried for rows that cannot go: a held send makes no UPDATE of the
    message table, and a send with a suppressed number makes the claim and the outcome
    of the others only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_xunchen.policy.suppression import suppress

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    update = f'UPDATE "{Message._meta.db_table}"'

    def updates(queries):
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(update)]

    with time_machine.travel(NIGHT, tick=False), CaptureQueriesContext(connection) as night:
        held = send_sms([N, M], "上新", kind="marketing")
    assert [r.status for r in held] == [S.QUEUED, S.QUEUED]
    assert updates(night) == []

    suppress(N, source="staff")
    with time_machine.travel(MORNING, tick=False), CaptureQueriesContext(connection) as day:
        off, on = send_sms([N, M], "再上新", kind="marketing")
    assert (off.status, on.status) == (S.SUPPRESSED, S.SENT)
    assert len(updates(day)) == 2, updates(day)


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


def test_requests_go_one_at_a_time_on_sqlite_and_inside_a_transaction(settings):
    """SQLite has a single writer, and other connections would not see a transaction's
    rows: elsewhere CONCURRENCY requests go at once, never more than there are."""
    from django.db import connection, transaction

    from django_xunchen.dispatch.submit import _concurrency

    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 3}
    chunk = [Message(mobile=N)]
    parallel = connection.vendor != "sqlite"
    assert _concurrency([chunk]) == 1
    assert _concurrency([chunk] * 2) == (2 if parallel else 1)
    assert _concurrency([chunk] * 5) == (3 if parallel else 1)
    with transaction.atomic():
        assert _concurrency([chunk] * 5) == 1
