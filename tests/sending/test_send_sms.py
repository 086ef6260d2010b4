"""send_sms() with the locmem backend: validation, rows, grouping, failures."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

import django_xunchen
from django_xunchen import send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    BlockedWordsError,
    InsufficientBalanceError,
    InvalidContentError,
    InvalidMobileError,
    InvalidSendTimeError,
    InvalidTemplateParamsError,
    NotSentError,
    OutcomeUnknownError,
)
from django_xunchen.models import Message, Template

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_row_per_number_and_sent(xunchen_outbox):
    messages = send_sms("13800138000, +86 139 0000 0000", "您好")
    assert [m.mobile for m in messages] == ["13800138000", "13900000000"]
    assert {m.status for m in messages} == {Message.Status.SENT}
    assert len({m.msgid for m in messages}) == 1
    assert len(xunchen_outbox) == 1
    assert xunchen_outbox[0].mobiles == ("13800138000", "13900000000")
    stored = Message.objects.get(mobile="13800138000")
    assert stored.status == "sent" and stored.msgid == messages[0].msgid
    assert stored.submitted_at is not None and stored.attempts == 1
    assert django_xunchen.outbox is xunchen_outbox


def test_250_numbers_are_three_requests(xunchen_outbox):
    numbers = [f"138{i:08d}" for i in range(250)]
    messages = send_sms(numbers, "hello")
    assert [len(s.mobiles) for s in xunchen_outbox] == [100, 100, 50]
    assert Message.objects.filter(status="sent").count() == 250
    assert len({m.msgid for m in messages}) == 3


@pytest.mark.parametrize(
    ("mobiles", "content", "error"),
    [
        (["13800138000", "12345", "abc"], "hi", InvalidMobileError),
        ("13800138000", "  ", InvalidContentError),
        ("13800138000", "x" * 301, InvalidContentError),
    ],
)
def test_bad_input_writes_nothing(xunchen_outbox, mobiles, content, error):
    with pytest.raises(error):
        send_sms(mobiles, content)
    assert Message.objects.count() == 0
    assert xunchen_outbox == []


def test_every_bad_number_is_reported():
    with pytest.raises(InvalidMobileError) as info:
        send_sms(["13800138000", "12345", "abc"], "hi")
    assert info.value.invalid == ["12345", "abc"]


def test_template_send(template, xunchen_outbox):
    (message,) = send_sms("13800138000", template=template, params={1: "李先生", 2: "928371"})
    assert message.content == "尊敬的李先生,您的验证码为928371，请及时输入。"
    assert message.template == template
    assert message.params == {"1": "李先生", "2": "928371"}
    request = xunchen_outbox[0].request
    assert request.template_id == "JSM40001-0001"
    assert request.content == "@1@=李先生,@2@=928371"


def test_template_by_vendor_id(template):
    (message,) = send_sms("13800138000", template="JSM40001-0001", params=["王", "1"])
    assert message.template_id == template.pk


def test_template_errors(template):
    with pytest.raises(InvalidTemplateParamsError, match="missing @2@"):
        send_sms("13800138000", template=template, params={1: "a"})
    with pytest.raises(InvalidTemplateParamsError, match="no template"):
        send_sms("13800138000", template="NOPE", params={1: "a"})
    Template.objects.filter(pk=template.pk).update(is_active=False)
    with pytest.raises(InvalidTemplateParamsError, match="not active"):
        send_sms("13800138000", template="JSM40001-0001", params={1: "a", 2: "b"})
    assert Message.objects.count() == 0


def test_gateway_refusal_is_recorded_and_raised(events):
    locmem.fail_next(BlockedWordsError("110", "send", words=["赌博"]))
    with pytest.raises(BlockedWordsError) as info:
        send_sms(["13800138000", "13900000000"], "赌博")
    rows = info.value.sms_messages
    assert {m.status for m in rows} == {"failed"}
    stored = Message.objects.get(mobile="13800138000")
    assert (stored.status, stored.error_code, stored.blocked_words) == ("failed", "110", ["赌博"])
    assert [name for name, _ in events] == ["message_failed", "message_failed"]


def test_fail_silently_records_without_raising():
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    (message,) = send_sms("13800138000", "hi", fail_silently=True)
    assert message.status == "failed" and message.error_code == "108"


def test_not_sent_goes_back_to_queued_and_send_queued_sends_it(xunchen_outbox, events):
    locmem.fail_next(NotSentError("cannot connect"))
    with pytest.raises(NotSentError):
        send_sms("13800138000", "hi")
    message = Message.objects.get()
    assert message.status == "queued" and "cannot connect" in message.error_message
    assert events == []
    counts = django_xunchen.send_queued()
    assert counts["sent"] == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2
    assert len(xunchen_outbox) == 1


def test_unknown_outcome_is_never_retried(xunchen_outbox):
    locmem.fail_next(OutcomeUnknownError("read timeout"))
    (message,) = send_sms("13800138000", "hi", fail_silently=True)
    assert message.status == "unknown"
    django_xunchen.send_queued()
    assert Message.objects.get().status == "unknown"
    assert xunchen_outbox == []


def test_account_error_stops_the_batch_and_leaves_the_rest_queued(xunchen_outbox):
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    numbers = [f"138{i:08d}" for i in range(150)]
    send_sms(numbers, "hi", fail_silently=True)
    assert Message.objects.filter(status="failed").count() == 100
    assert Message.objects.filter(status="queued").count() == 50
    assert xunchen_outbox == []


def test_expired_messages_are_never_sent(xunchen_outbox):
    soon = timezone.now() + dt.timedelta(seconds=30)
    locmem.fail_next(NotSentError("down"))
    send_sms("13800138000", "hi", expires_at=soon, fail_silently=True)
    Message.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert django_xunchen.send_queued()["expired"] == 1
    assert Message.objects.get().status == "expired"
    assert xunchen_outbox == []


def test_expiry_validation():
    past = timezone.now() - dt.timedelta(minutes=1)
    with pytest.raises(InvalidSendTimeError, match="has passed"):
        send_sms("13800138000", "hi", expires_at=past)
    later = timezone.now() + dt.timedelta(hours=2)
    with pytest.raises(InvalidSendTimeError, match="not after the send time"):
        send_sms("13800138000", "hi", send_at=later, expires_at=later - dt.timedelta(hours=1))
    with pytest.raises(InvalidSendTimeError, match="timezone-aware"):
        send_sms("13800138000", "hi", send_at=dt.datetime(2099, 1, 1))


def test_scheduled_send_uses_the_gateways_sendtime(xunchen_outbox):
    at = timezone.now() + dt.timedelta(hours=3)
    (message,) = send_sms("13800138000", "later", send_at=at)
    assert xunchen_outbox[0].request.send_at == at
    assert message.send_at == at


def test_stale_sending_rows_become_unknown():
    locmem.fail_next(NotSentError("down"))
    send_sms("13800138000", "hi", fail_silently=True)
    Message.objects.update(status="sending", updated_at=timezone.now() - dt.timedelta(hours=1))
    assert django_xunchen.send_queued()["stale"] == 1
    assert Message.objects.get().status == "unknown"


def test_locmem_sends_inside_a_transaction(xunchen_outbox):
    with transaction.atomic():
        (message,) = send_sms("13800138000", "hi")
    assert message.status == "sent"
    assert len(xunchen_outbox) == 1


def test_resend(xunchen_outbox):
    locmem.fail_next(InsufficientBalanceError("108", "send"))
    (original,) = send_sms("13800138000", "hi", fail_silently=True)
    queued = Message.objects.create(mobile="13900000000", content="waiting")
    created, skipped = django_xunchen.resend(Message.objects.order_by("pk"))
    assert [m.resent_from_id for m in created] == [original.pk]
    assert skipped == [queued]
    assert created[0].status == "sent"
    assert original.resends.get() == created[0]


def test_console_backend(capsys):
    (message,) = send_sms(
        "13800138000", "控制台", backend="django_xunchen.backends.console.SMSBackend"
    )
    out = capsys.readouterr().out
    assert "To: 13800138000" in out and "控制台" in out
    assert message.msgid.startswith("console-")


def test_dummy_backend():
    (message,) = send_sms("13800138000", "x", backend="django_xunchen.backends.dummy.SMSBackend")
    assert message.status == "sent"


def test_unknown_backend_is_improperly_configured_even_with_fail_silently():
    with pytest.raises(ImproperlyConfigured, match="cannot import"):
        send_sms("13800138000", "x", backend="nope.Backend", fail_silently=True)
    assert Message.objects.count() == 0


def test_get_balance_locmem():
    assert django_xunchen.get_balance().messages == 10000


# --------------------------------------------------------------------------- rows in bulk


def test_a_send_s_rows_share_nothing_mutable(xunchen_outbox):
    template = Template.objects.create(template_id="T-9", name="t", body="您好@1@")
    rows = send_sms(
        [f"136{i:08d}" for i in range(3)],
        template=template,
        params=["张三"],
        tags=["a"],
        metadata={"k": 1},
    )
    rows[0].tags.append("b")
    rows[0].metadata["k"] = 2
    rows[0].params["1"] = "李四"
    assert rows[1].tags == ["a"] and rows[1].metadata == {"k": 1}
    assert rows[1].params == {"1": "张三"}
    assert len({r.pk for r in rows}) == 3 and all(r.template is template for r in rows)
    assert [m.mobile for m in Message.objects.order_by("pk")] == [r.mobile for r in rows]


def test_init_signal_receivers_see_every_row(xunchen_outbox):
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.mobile)

    post_init.connect(receiver, sender=Message)
    try:
        rows = send_sms(["13800138000", "13900139000"], "x", tags=["t"])
    finally:
        post_init.disconnect(receiver, sender=Message)
    assert {"13800138000", "13900139000"} <= set(seen)
    assert [r.tags for r in rows] == [["t"], ["t"]] and rows[0].tags is not rows[1].tags


def test_rows_built_through_init_for_receivers_keep_the_template(template, xunchen_outbox):
    from django.db.models.signals import post_init

    def receiver(sender, instance, **kwargs):
        pass

    post_init.connect(receiver, sender=Message)
    try:
        rows = send_sms(["13800138000", "13900139000"], template=template, params=["张三", "1"])
    finally:
        post_init.disconnect(receiver, sender=Message)
    assert [r.template for r in rows] == [template, template]
    assert set(Message.objects.values_list("template", flat=True)) == {template.pk}
    assert [s.request.template_id for s in xunchen_outbox] == ["JSM40001-0001"]


def test_without_update_returning_a_select_reads_the_claim(monkeypatch, xunchen_outbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_xunchen.dispatch import claim

    monkeypatch.setattr(claim, "_update_returns_rows", lambda: False)
    with CaptureQueriesContext(connection) as ctx:
        rows = send_sms([f"135{i:08d}" for i in range(150)], "x")
    assert {r.status for r in rows} == {"sent"}
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 150
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any("RETURNING" in s and s.startswith("UPDATE") for s in sql)
    assert len([s for s in sql if s.startswith("SELECT") and "claim" in s]) == 2
