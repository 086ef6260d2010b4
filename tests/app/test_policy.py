"""Sending policy: opt-outs, bounces, the footer, quiet hours, learned words, parts, cost."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from django_xunchen import estimate, get_balance, poll, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.exceptions import (
    BalanceTooLowError,
    BlockedWordsError,
    LearnedBlockedWordsError,
    MissingOptOutFooterError,
)
from django_xunchen.models import BlockedWord, Message, Suppression, Template
from django_xunchen.policy.pricing import parts
from django_xunchen.policy.replies import normalize_reply, reply_intent
from django_xunchen.policy.suppression import suppress, unsuppress
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBER = "13800138000"


def beijing(hour, minute=0, day=26):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CHINA_TZ)


@pytest.fixture
def marketing_rules(settings):
    """The defaults the tests settings turn off: quiet hours 21:00–08:00, a daily cap."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "QUIET_HOURS": ("21:00", "08:00"),
        "MARKETING_DAILY_CAP": 2,
    }


@pytest.fixture
def signals():
    from django_xunchen import signals as module

    got = []

    def out(sender, **kwargs):
        got.append(("opted_out", kwargs["mobile"]))

    def back(sender, **kwargs):
        got.append(("opted_in", kwargs["mobile"]))

    module.opted_out.connect(out)
    module.opted_in.connect(back)
    yield got
    module.opted_out.disconnect(out)
    module.opted_in.disconnect(back)


# ----------------------------------------------------------------------- opt-out replies


@pytest.mark.parametrize(
    ("reply", "intent"),
    [
        ("退订！", "out"),
        ("ＴＤ", "out"),
        ("td", "out"),
        (" T ", "out"),
        ("退订谢谢", "out"),
        ("拒收", "out"),
        ("R", "out"),
        ("TD 谢谢", "out"),
        ("Thanks", None),
        ("Nice", None),
        ("好的", None),
        ("订阅", "in"),
        ("", None),
    ],
)
def test_reply_keywords(reply, intent):
    assert reply_intent(reply) == intent


def test_normalize_reply():
    assert normalize_reply("  ＴＤ！！ ") == "td"


def test_an_opt_out_reply_suppresses_marketing_but_never_codes(xunchen_outbox, signals):
    locmem.queue_reply(NUMBER, "退订！")
    poll(force=True)
    entry = Suppression.objects.get()
    assert (entry.mobile, entry.scope, entry.source, entry.cause) == (
        NUMBER,
        "marketing",
        "reply",
        "退订！",
    )
    assert entry.reply.content == "退订！"
    assert signals == [("opted_out", NUMBER)]
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing", fail_silently=True)
    assert promo.status == S.SUPPRESSED and "suppression list" in promo.error_message
    assert not xunchen_outbox
    (notice,) = send_sms(NUMBER, "您的订单已发货")
    assert notice.status == S.SENT
    assert request_code(NUMBER).sent
    assert len(xunchen_outbox) == 2


def test_an_opt_in_reply_takes_the_number_back(xunchen_outbox, signals):
    locmem.queue_reply(NUMBER, "TD")
    poll(force=True)
    locmem.queue_reply(NUMBER, "订阅")
    poll(force=True)
    assert not Suppression.objects.exists()
    assert signals == [("opted_out", NUMBER), ("opted_in", NUMBER)]
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing")
    assert promo.status == S.SENT


def test_a_crash_in_the_ingest_loses_no_opt_out(monkeypatch, xunchen_outbox):
    from django_xunchen.polling import replies

    locmem.queue_reply(NUMBER, "退订")

    def broken(replies):
        raise RuntimeError("disk full")

    monkeypatch.setattr(replies.policy, "apply_reply_keywords", broken)
    poll(force=True)
    from django_xunchen.models import InboundMessage

    assert not InboundMessage.objects.exists(), "the reply and its opt-out commit together"
    monkeypatch.undo()
    poll(force=True)
    assert InboundMessage.objects.count() == 1 and Suppression.objects.count() == 1


def test_scope_all_suppresses_notices_too():
    suppress(NUMBER, source=Suppression.Source.STAFF, scope=Suppression.Scope.ALL)
    (notice,) = send_sms(NUMBER, "您的订单已发货", fail_silently=True)
    assert notice.status == S.SUPPRESSED
    assert unsuppress(NUMBER)
    (notice,) = send_sms(NUMBER, "您的订单已发货")
    assert notice.status == S.SENT


@pytest.mark.parametrize("reply", ["退订", "TD"])
def test_a_marketing_opt_out_by_reply_never_narrows_a_suppression_for_everything(
    reply, xunchen_outbox
):
    """Staff took the number off everything; its later 退订 is about marketing, which it
    already gets none of: it stays off everything, notifications included."""
    suppress(NUMBER, source=Suppression.Source.STAFF, scope=Suppression.Scope.ALL)
    waiting = Message.objects.create(mobile=NUMBER, content="您的订单已发货")  # queued before
    locmem.queue_reply(NUMBER, reply)
    poll(force=True)
    assert list(Suppression.objects.values_list("mobile", "scope")) == [(NUMBER, "all")]
    (notice,) = send_sms(NUMBER, "您的快递已到", fail_silently=True)
    assert notice.status == S.SUPPRESSED
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing", fail_silently=True)
    assert promo.status == S.SUPPRESSED
    assert send_queued()["sent"] == 0
    waiting.refresh_from_db()
    assert waiting.status == S.SUPPRESSED, "checked again when it is submitted"
    assert not xunchen_outbox
    assert request_code(NUMBER).sent, "verification codes are never suppressed"


def test_bounces_suppress_marketing_with_the_cause(xunchen_outbox):
    for _ in range(3):
        send_sms(NUMBER, "您的订单已发货")
    locmem.deliver_all("MA:0006")
    poll(force=True)
    entry = Suppression.objects.get()
    assert (entry.source, entry.scope) == ("bounce", "marketing")
    assert "MA:0006" in entry.cause


def test_mixed_bounces_do_not_suppress(xunchen_outbox):
    send_sms(NUMBER, "a")
    locmem.deliver_all("MA:0006")
    poll(force=True)
    locmem.outbox.clear()
    send_sms(NUMBER, "b")
    send_sms(NUMBER, "c")
    locmem.deliver_all("UNDELIV")
    poll(force=True)
    assert not Suppression.objects.exists(), "the same cause three times in a row"


# ----------------------------------------------------------------------- quiet hours


def test_marketing_at_22_is_held_and_submitted_at_8(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(22), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing")
        assert row.status == S.QUEUED and not xunchen_outbox
        assert row.hold_until == beijing(8, day=27)
        assert send_queued()["claimed"] == 0
    with time_machine.travel(beijing(7, 59, day=27), tick=False):
        assert send_queued()["sent"] == 0
    with time_machine.travel(beijing(8, 0, day=27), tick=False):
        assert send_queued()["sent"] == 1
    assert xunchen_outbox[0].request.send_at is None, "held here, not at the gateway"
    notices = send_sms(NUMBER, "您的订单已发货")
    assert notices[0].status == S.SENT, "quiet hours are for marketing"


def test_an_opt_out_during_quiet_hours_stops_the_held_message(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(22), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing")
    with time_machine.travel(beijing(23), tick=False):
        locmem.queue_reply(NUMBER, "退订")
        poll(force=True)
    with time_machine.travel(beijing(8, 1, day=27), tick=False):
        assert send_queued()["sent"] == 0
    row.refresh_from_db()
    assert row.status == S.SUPPRESSED and not xunchen_outbox


def test_a_scheduled_marketing_time_inside_quiet_hours_is_held(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(12), tick=False):
        (row,) = send_sms(NUMBER, "新品上市", kind="marketing", send_at=beijing(23))
        assert row.hold_until == beijing(8, day=27) and row.send_at is None


def test_the_daily_marketing_cap(marketing_rules, xunchen_outbox):
    with time_machine.travel(beijing(10), tick=False):
        first = send_sms([NUMBER, "13900139000"], "新品一", kind="marketing")
        second = send_sms(NUMBER, "新品二", kind="marketing")
        third = send_sms([NUMBER, "13900139000"], "新品三", kind="marketing", fail_silently=True)
    assert [r.status for r in first + second] == [S.SENT] * 3
    assert [r.status for r in third] == [S.SUPPRESSED, S.SENT]
    with time_machine.travel(beijing(10, day=27), tick=False):
        assert send_sms(NUMBER, "新品四", kind="marketing")[0].status == S.SENT


# ----------------------------------------------------------------------- footer and parts


def test_the_footer_is_added_exactly_once_and_counted_in_the_parts(xunchen_outbox):
    text = "新" * 67
    (row,) = send_sms(NUMBER, text, kind="marketing")
    assert row.content == text + "回T退订" and xunchen_outbox[0].content == row.content
    (again,) = send_sms(NUMBER, text + "回T退订", kind="marketing")
    assert again.content.count("退订") == 1
    assert estimate(NUMBER, text, kind="marketing").parts == 2, "67 + 4 characters"
    assert estimate(NUMBER, text).parts == 1
    (plain,) = send_sms(NUMBER, text)
    assert "退订" not in plain.content


def test_a_marketing_template_without_a_footer_is_refused(xunchen_outbox):
    bare = Template.objects.create(template_id="M-1", name="promo", body="@1@折")
    with pytest.raises(MissingOptOutFooterError, match="M-1"):
        send_sms(NUMBER, template=bare, params={"1": "5"}, kind="marketing")
    assert not Message.objects.exists()
    good = Template.objects.create(template_id="M-2", name="promo", body="@1@折，拒收请回复R")
    assert send_sms(NUMBER, template=good, params={"1": "5"}, kind="marketing")[0].status == S.SENT


@pytest.mark.parametrize(
    ("length", "without", "with_signature"),
    [(70, 1, 2), (71, 2, 2), (134, 2, 3), (135, 3, 3)],
)
def test_parts(settings, length, without, with_signature):
    assert parts("字" * length) == without
    assert estimate(NUMBER, "字" * length).parts == without
    settings.XUNCHEN = {**settings.XUNCHEN, "SIGNATURE": "【江苏迅辰】"}
    assert parts("字" * length) == with_signature
    found = estimate([NUMBER, "13900139000"], "字" * length)
    assert (found.parts, found.total_parts) == (with_signature, 2 * with_signature)
    assert found.cost == Decimal("0.1") * 2 * with_signature


def test_the_price_per_part_decides_what_the_balance_buys(settings):
    assert get_balance().messages == 10000
    settings.XUNCHEN = {**settings.XUNCHEN, "PRICE_PER_PART": "0.05"}
    assert get_balance().messages == 20000


# ----------------------------------------------------------------------- learned words


def test_a_110_refusal_teaches_the_word(xunchen_outbox):
    locmem.fail_next(BlockedWordsError("110", "send", words=["发票"]))
    (row,) = send_sms(NUMBER, "代开发票", fail_silently=True)
    assert row.status == S.FAILED
    word = BlockedWord.objects.get()
    assert (word.word, word.account, word.source_id) == ("发票", "default", row.pk)
    with pytest.raises(LearnedBlockedWordsError, match="发票") as refused:
        send_sms(NUMBER, "正规发票", fail_silently=True)
    assert refused.value.words == ["发票"]
    assert Message.objects.count() == 1 and not xunchen_outbox
    word.is_active = False
    word.save()
    assert send_sms(NUMBER, "正规发票")[0].status == S.SENT


# ----------------------------------------------------------------------- balance


def test_a_campaign_above_the_balance_is_refused_with_nothing_written(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BALANCE_CHECK_ABOVE": 10}
    numbers = [f"138{i:08d}" for i in range(11)]
    locmem.balance = locmem.Balance(amount=Decimal("1.0"), messages=10)
    try:
        with pytest.raises(BalanceTooLowError, match=r"costs 1\.1") as refused:
            send_sms(numbers, "新品", fail_silently=True)
        assert refused.value.needed == Decimal("1.1")
        assert not Message.objects.exists() and not xunchen_outbox
        assert len(send_sms(numbers[:10], "新品")) == 10, "at or below the size: no check"
        locmem.balance = locmem.Balance(amount=Decimal("2.0"), messages=20)
        assert len(send_sms(numbers, "新品")) == 11, "2.0 covers 1.1"
        Message.objects.filter(pk__in=Message.objects.order_by("pk")[:10]).update(status=S.QUEUED)
        with pytest.raises(BalanceTooLowError, match=r"has 1\.0 left"):
            send_sms(numbers, "新品")  # 1.0 of the 2.0 pays for what is queued
    finally:
        locmem.balance = locmem.Balance(amount=Decimal("1000"), messages=10000)
