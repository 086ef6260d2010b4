"""send_sms() through the real backend against the fake gateway over loopback HTTP."""

import pytest
from django.db import transaction
from django.db.models import Count

from django_xunchen import send_queued, send_sms
from django_xunchen.backends.xunchen import SMSBackend
from django_xunchen.exceptions import (
    BlockedWordsError,
    GatewayError,
    NotSentError,
    OutcomeUnknownError,
)
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_250_numbers_are_three_requests(gateway):
    numbers = [f"139{i:08d}" for i in range(250)]
    messages = send_sms(numbers, "批量通知")
    assert sorted((len(s.mobiles) for s in gateway.submissions), reverse=True) == [100, 100, 50]
    assert Message.objects.filter(status="sent").count() == 250
    by_msgid = {}
    for m in messages:
        by_msgid.setdefault(m.msgid, []).append(m.mobile)
    assert sorted(len(v) for v in by_msgid.values()) == [50, 100, 100]
    for submission in gateway.submissions:
        assert list(submission.mobiles) == by_msgid[submission.msgid]


def test_template_send(gateway, template):
    (message,) = send_sms("13800138000", template=template, params={1: "张三", 2: "4321"})
    assert gateway.submissions[0].msgtype == 2
    assert (
        gateway.submissions[0].text
        == message.content
        == "尊敬的张三,您的验证码为4321，请及时输入。"
    )


def test_gbk_account(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "ENCODING": "gbk"}
    send_sms("13800138000", "退订回T")
    assert gateway.submissions[0].method == "sendGbkMsg"
    assert gateway.submissions[0].text == "退订回T"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda gw: setattr(gw.account, "balance", 0), "108"),
        (lambda gw: setattr(gw.account, "enabled", False), "102"),
        (lambda gw: setattr(gw.account, "password", "changed"), "101"),
        (lambda gw: setattr(gw.account, "very_code", "changed"), "116"),
        (lambda gw: setattr(gw.account, "allowed_ips", ("10.1.1.1",)), "109"),
        (lambda gw: setattr(gw.account, "http_enabled", False), "117"),
        (lambda gw: gw.state.blocked_words.append("敏感"), "110"),
    ],
)
def test_each_gateway_error_lands_in_failed_with_its_code(gateway, setup, code):
    setup(gateway)
    with pytest.raises(GatewayError) as info:
        send_sms("13800138000", "含敏感内容")
    assert info.value.code == code
    message = Message.objects.get()
    assert (message.status, message.error_code) == ("failed", code)
    assert message.msgid == ""
    if code == "110":
        assert isinstance(info.value, BlockedWordsError)
        assert message.blocked_words == ["敏感"]


def test_unknown_template_at_the_gateway(gateway, template):
    gateway.account.templates.clear()
    send_sms("13800138000", template=template, params=["a", "b"], fail_silently=True)
    assert Message.objects.get().error_code == "114"


def test_timeout_after_the_request_went_out_is_unknown(gateway):
    gateway.inject_fault("latency", seconds=3, method="sendUtf8Msg")
    with pytest.raises(OutcomeUnknownError):
        send_sms("13800138000", "slow")
    message = Message.objects.get()
    assert message.status == "unknown"
    assert len(gateway.submissions) == 1, "the gateway did accept it: retrying would duplicate"


def test_after_an_unknown_outcome_the_send_stops_and_the_rest_stays_queued(gateway, settings):
    """The gateway took the first 100 but the answer never came back: the send may be
    going badly wrong (or the gateway is slow), so the other 50 are not submitted; they
    wait in ``queued`` for send_queued, and the 100 are ``unknown``, never sent again."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BATCH_SIZE": 100, "CONCURRENCY": 1, "TIMEOUT": (2, 1)}
    gateway.inject_fault("latency", seconds=2, method="sendUtf8Msg", times=1)
    numbers = [f"139{i:08d}" for i in range(150)]
    with pytest.raises(OutcomeUnknownError):
        send_sms(numbers, "批量通知")
    statuses = dict(
        Message.objects.values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    assert statuses == {"unknown": 100, "queued": 50}
    requests = [r for r in gateway.requests if r.get("method") == "sendUtf8Msg"]
    assert len(requests) == 1, "no second request reached the gateway"
    (accepted,) = gateway.submissions
    unknown = set(Message.objects.filter(status="unknown").values_list("mobile", flat=True))
    assert set(accepted.mobiles) == unknown, "the unknown rows are the request that left"


def test_dropped_connection_is_unknown(gateway):
    gateway.inject_fault("drop", method="sendUtf8Msg")
    send_sms("13800138000", "x", fail_silently=True)
    assert Message.objects.get().status == "unknown"


def test_connection_refused_is_queued(settings, gateway, refusing_url):
    settings.XUNCHEN = {**settings.XUNCHEN, "BASE_URL": refusing_url}
    with pytest.raises(NotSentError):
        send_sms("13800138000", "x")
    message = Message.objects.get()
    assert message.status == "queued"
    assert message.error_message


def test_connect_timeout_is_queued_and_sent_later(settings, gateway, unreachable_url):
    settings.XUNCHEN = {**settings.XUNCHEN, "BASE_URL": unreachable_url, "TIMEOUT": (0.5, 5)}
    send_sms("13800138000", "x", fail_silently=True)
    message = Message.objects.get()
    assert (message.status, message.msgid) == ("queued", "")
    assert "timed out" in message.error_message
    settings.XUNCHEN = {**settings.XUNCHEN, "BASE_URL": gateway.base_url}
    assert send_queued()["sent"] == 1
    assert len(gateway.submissions) == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2


def test_sending_is_committed_before_the_request_goes_out(gateway, settings):
    seen = []

    class Spy(SMSBackend):
        def send(self, request):
            seen.extend(Message.objects.values_list("status", "claim"))
            return super().send(request)

    import sys

    module = sys.modules[__name__]
    module.Spy = Spy
    send_sms(["13800138000", "13900000000"], "x", backend=f"{__name__}.Spy")
    assert [s for s, _ in seen] == ["sending", "sending"]
    assert all(claim is not None for _, claim in seen)
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert set(Message.objects.values_list("claim", flat=True)) == {None}


def test_inside_a_transaction_the_send_waits_for_the_commit(gateway):
    with transaction.atomic():
        (message,) = send_sms("13800138000", "after commit")
        assert message.status == "queued"
        assert gateway.submissions == []
    assert len(gateway.submissions) == 1
    assert Message.objects.get().status == "sent"


def test_inside_a_transaction_a_resend_on_an_account_that_reaches_handsets_waits(gateway, settings):
    """What decides is the backend of the rows' own account, not the default's: here
    ``default`` is in-memory and ``shop`` the gateway."""
    from django_xunchen import resend

    settings.XUNCHEN = {
        "TIMEOUT": (2, 2),
        "ACCOUNTS": {
            "default": {"BACKEND": "django_xunchen.backends.locmem.SMSBackend"},
            "shop": gateway.account_settings(),
        },
    }
    original = Message.objects.create(
        mobile="13800138000", content="您的订单已发货", account="shop", status="failed"
    )
    with transaction.atomic():
        (copy,), skipped = resend([original])
        assert skipped == [] and gateway.submissions == []
        assert Message.objects.get(pk=copy.pk).status == "queued"
    assert len(gateway.submissions) == 1
    assert Message.objects.get(pk=copy.pk).status == "sent"


def test_a_rolled_back_send_never_reaches_the_gateway(gateway):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        send_sms("13800138000", "never")
        raise Boom
    assert gateway.submissions == []
    assert Message.objects.count() == 0


def test_two_dispatchers_never_send_a_row_twice(gateway):
    """The claim is a conditional UPDATE: a second dispatcher of the same rows sends none."""
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch

    rows = [Message.objects.create(mobile=f"1380000000{i}", content="once") for i in range(3)]
    stale_copies = [Message.objects.get(pk=r.pk) for r in rows]
    dispatch(rows, get_backend())
    dispatch(stale_copies, get_backend())
    assert len(gateway.submissions) == 1
    assert {r.status for r in stale_copies} == {"sent"}


@pytest.mark.parametrize(
    ("batch_size", "sizes"),
    [(50, [50, 50, 50, 50, 50]), (100, [100, 100, 50]), (500, [100, 100, 50])],
)
def test_batch_size_is_honoured_and_never_above_100(gateway, settings, batch_size, sizes):
    """500 is refused by the system check; even if it gets through, the gateway's cap holds."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BATCH_SIZE": batch_size}
    send_sms([f"139{i:08d}" for i in range(250)], "分批")
    assert sorted((len(s.mobiles) for s in gateway.submissions), reverse=True) == sizes
