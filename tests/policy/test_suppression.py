"""The suppression list: opt-out and opt-in replies (never for codes), a scope for every
kind, and bounces."""

import pytest

from django_xunchen import poll, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Message, Suppression
from django_xunchen.policy.replies import normalize_reply, reply_intent
from django_xunchen.policy.suppression import suppress, unsuppress
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBER = "13800138000"


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
