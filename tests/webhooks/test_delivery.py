"""Events recorded with their change, delivered signed to a receiver on 127.0.0.1 over
real HTTP, retried, replayed, refused for private addresses, and an endpoint disabled
after a day of failures (the tick's path: :func:`delivery.run`)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.models import (
    EventType,
    HealthAlert,
    Message,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from django_xunchen.operations.monitoring import Level, webhook_check
from django_xunchen.signals import health_alert
from django_xunchen.webhooks import delivery, events, signing

from .conftest import documented_receiver, make_endpoint

pytestmark = pytest.mark.django_db(transaction=True)
T0 = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.timezone.utc)


def delivered_message(gateway) -> Message:
    (message,) = send_sms("13800138000", "您的订单已发货")
    gateway.deliver_now()
    assert poll().ok
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    return message


def test_a_delivered_report_becomes_one_signed_delivery_the_documented_receiver_verifies(
    gateway, allow_private, receiver
):
    endpoint, secret = make_endpoint(receiver.url, [EventType.MESSAGE_DELIVERED])
    message = delivered_message(gateway)

    result = delivery.run()
    assert (result.handed_out, result.delivered) == (1, 1)
    assert delivery.run().delivered == 0, "delivered once"
    (got,) = receiver.received
    event = documented_receiver().verify(secret, got.body, got.headers[signing.SIGNATURE_HEADER])
    assert event["type"] == "message.delivered"
    assert event["data"]["id"] == message.pk
    assert event["data"]["status"] == "delivered"
    assert event["data"]["mobile"] == "13800138000"
    stored = WebhookEvent.objects.get()
    assert event["id"] == str(stored.event_id) == got.headers[signing.EVENT_ID_HEADER]
    assert got.headers[signing.EVENT_HEADER] == "message.delivered"
    with pytest.raises(ValueError):
        documented_receiver().verify("whsec_other", got.body, got.headers[signing.SIGNATURE_HEADER])
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert row.endpoint == endpoint


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_and_once_only(
    gateway, allow_private, receiver
):
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.statuses = [500, 503]
    with time_machine.travel(T0, tick=False) as clock:
        send_sms("13800138000", "您的订单已发货")
        assert delivery.run().failed == 1
        assert delivery.run().failed == 0, "not due again before its backoff"
        clock.shift(dt.timedelta(seconds=31))
        assert delivery.run().failed == 1
        clock.shift(dt.timedelta(seconds=61))
        assert delivery.run().delivered == 1
        for _ in range(3):
            clock.shift(dt.timedelta(hours=2))
            assert delivery.run().delivered == 0
    assert len(receiver.received) == 3
    assert len({r.event["id"] for r in receiver.received}) == 1, "the same event each time"
    assert len({r.body for r in receiver.received}) == 1, "the same body each time"
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts) == ("delivered", 3)
    assert list(WebhookAttempt.objects.order_by("at").values_list("status_code", flat=True)) == [
        500,
        503,
        200,
    ]


def test_a_replay_is_delivered_again_with_the_same_event_id(gateway, allow_private, receiver):
    make_endpoint(receiver.url, [EventType.MESSAGE_DELIVERED])
    delivered_message(gateway)
    delivery.run()
    assert delivery.replay(WebhookDelivery.objects.all()) == 1
    assert delivery.run().delivered == 1
    first, again = receiver.received
    assert first.event == again.event
    assert first.event["id"] == again.event["id"]
    assert WebhookAttempt.objects.filter(replay=True).count() == 1


def test_a_url_on_a_private_address_is_refused_when_the_setting_does_not_allow_it(
    gateway, receiver, caplog
):
    endpoint = WebhookEndpoint.objects.create(
        name="internal", url=receiver.url, events=[EventType.MESSAGE_SENT], secret="whsec_x" * 5
    )
    send_sms("13800138000", "您的订单已发货")
    with caplog.at_level(logging.WARNING, logger="django_xunchen.webhooks"):
        result = delivery.run()
    assert result.failed == 1
    assert receiver.received == [], "nothing reached the private address"
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "127.0.0.1" in attempt.error and "ALLOW_PRIVATE_ADDRESSES" in attempt.error
    assert endpoint.secret not in caplog.text


def test_a_day_of_failures_disables_the_endpoint_and_raises_the_alert(
    gateway, allow_private, receiver, caplog
):
    endpoint, _secret = make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.statuses = [500] * 1000
    alerts = []

    def listen(sender, check, **kwargs):
        alerts.append(check)

    health_alert.connect(listen)
    try:
        with time_machine.travel(T0, tick=False) as clock:
            send_sms("13800138000", "您的订单已发货")
            with caplog.at_level(logging.ERROR, logger="django_xunchen.health"):
                for _ in range(60):
                    delivery.run()
                    endpoint.refresh_from_db()
                    if not endpoint.is_active:
                        break
                    assert timezone.now() - T0 < dt.timedelta(hours=25)
                    clock.shift(dt.timedelta(minutes=45))
                    send_sms("13800138000", "又一条")  # keeps failing with fresh events
    finally:
        health_alert.disconnect(listen)
    assert not endpoint.is_active
    assert endpoint.disabled_at - endpoint.failing_since >= dt.timedelta(hours=24)
    assert "24 hours" in endpoint.disabled_reason
    assert HealthAlert.objects.get(key=f"webhook_disabled:{endpoint.pk}").active
    assert [c.name for c in alerts] == ["webhook_disabled"]
    assert "webhook_disabled" in caplog.text
    check = webhook_check()
    assert check.level == Level.CRITICAL and "orders" in check.detail
    posts = len(receiver.received)
    delivery.run()
    assert len(receiver.received) == posts, "a disabled endpoint gets nothing"

    endpoint.is_active = True
    from django_xunchen.webhooks import endpoints

    endpoints.save_endpoint(endpoint)
    assert not HealthAlert.objects.get(key=f"webhook_disabled:{endpoint.pk}").active
    assert webhook_check().level == Level.OK


def test_a_success_in_between_keeps_the_endpoint_enabled(gateway, allow_private, receiver):
    endpoint, _secret = make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    with time_machine.travel(T0, tick=False) as clock:
        for hour in range(30):
            receiver.statuses = [500] if hour % 20 else []  # one success every 20 hours
            send_sms("13800138000", f"第{hour}条")
            delivery.run()
            clock.shift(dt.timedelta(hours=1))
    endpoint.refresh_from_db()
    assert endpoint.is_active


def test_no_endpoint_no_event_and_a_rolled_back_change_records_none(gateway, allow_private):
    send_sms("13800138000", "您的订单已发货")
    assert not WebhookEvent.objects.exists(), "nobody wants it: nothing recorded"
    WebhookEndpoint.objects.create(
        name="x", url="http://127.0.0.1:9/", events=[EventType.MESSAGE_SENT], secret="s"
    )
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record(EventType.MESSAGE_SENT, [1, 2])
        raise RuntimeError
    assert not WebhookEvent.objects.exists()
    endpoint = WebhookEndpoint.objects.get()
    endpoint.is_active = False
    endpoint.save()
    assert events.record(EventType.MESSAGE_SENT, [1]) == 0
    with pytest.raises(ValueError):
        events.record("message.opened", [1])


def test_account_and_kind_filters(gateway, allow_private, receiver):
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT], kind="marketing", name="marketing")
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT], account="other", name="other")
    with time_machine.travel(T0, tick=False):  # marketing outside quiet hours
        send_sms("13800138000", "您的订单已发货", kind="notification")
        send_sms("13800138001", "周末大促", kind="marketing")
        delivery.run()
    (got,) = receiver.events()
    assert got["data"]["kind"] == "marketing"


def test_the_secret_is_shown_once_and_never_in_a_repr_or_a_log(
    gateway, allow_private, receiver, caplog
):
    endpoint, secret = make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    assert secret.startswith("whsec_") and len(secret) > 40
    assert secret not in repr(endpoint) and secret not in str(endpoint)
    endpoint.name = "renamed"
    from django_xunchen.webhooks import endpoints

    assert endpoints.save_endpoint(endpoint) is None, "a change shows no secret"
    assert WebhookEndpoint.objects.get().secret == secret
    receiver.statuses = [500]
    with caplog.at_level(logging.DEBUG):
        send_sms("13800138000", "您的订单已发货")
        assert delivery.run().failed == 1  # a failure is logged, with its endpoint
    assert "webhook" in caplog.text and secret not in caplog.text


def test_a_failing_endpoint_never_holds_up_a_healthy_one(
    gateway, allow_private, receiver, settings
):
    hooks = settings.XUNCHEN["WEBHOOKS"]
    settings.XUNCHEN = {**settings.XUNCHEN, "WEBHOOKS": {**hooks, "BATCH": 20}}
    WebhookEndpoint.objects.create(
        name="down", url="http://127.0.0.1:9/", events=[EventType.MESSAGE_SENT], secret="s"
    )
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT], name="up")
    send_sms([f"1380013{i:04d}" for i in range(30)], "您的订单已发货")
    result = delivery.run()
    assert (result.failed, result.delivered, result.more) == (1, 19, True), "the batch is 20"
    assert delivery.run().delivered == 11
    assert len(receiver.received) == 30
    assert WebhookDelivery.objects.filter(endpoint__name="down", attempts=0).count() == 28


def test_an_answer_with_a_nul_is_logged_without_it_and_the_delivery_ends(
    gateway, allow_private, receiver
):
    """PostgreSQL refuses a NUL in a text column: kept, the log's write would fail after
    the POST, and the event would go again every minute, for ever."""
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.answer = b"ok\x00\xff"
    send_sms("13800138000", "您的订单已发货")
    assert delivery.run().delivered == 1
    assert delivery.run().delivered == 0
    assert len(receiver.received) == 1
    assert "\x00" not in WebhookAttempt.objects.get().response


def test_a_disabled_endpoints_deliveries_wait_and_flow_once_it_is_enabled(
    gateway, allow_private, receiver
):
    from django_xunchen.webhooks import endpoints

    endpoint, _secret = make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    with time_machine.travel(T0, tick=False) as clock:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=False, disabled_at=T0, disabled_reason="x"
        )
        events.forget_subscriptions()
        send_sms("13800138000", "第一条")
        assert delivery.run().delivered == 0 and receiver.received == []
        clock.shift(dt.timedelta(hours=2))
        endpoint.refresh_from_db()
        endpoint.is_active = True
        endpoints.save_endpoint(endpoint)
        assert delivery.run().delivered == 1, "it waited within its window"
        endpoint.is_active = False
        endpoint.disabled_at = timezone.now()
        endpoint.save()
        send_sms("13800138001", "第二条")
        delivery.run()
        clock.shift(dt.timedelta(hours=26))
        assert delivery.run().gave_up == 1, "a day and an hour without an attempt"
        assert WebhookDelivery.objects.filter(status="gave_up").count() == 1
        endpoint.is_active = True
        endpoints.save_endpoint(endpoint)
        assert delivery.run().delivered == 0, "given up: nothing goes by itself"
        assert delivery.replay(WebhookDelivery.objects.filter(status="gave_up")) == 1
        assert delivery.run().delivered == 1
    assert len(receiver.received) == 2


def test_a_failure_after_a_quiet_spell_starts_the_clock_again(gateway, allow_private, receiver):
    endpoint, _secret = make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.statuses = [500, 500]
    with time_machine.travel(T0, tick=False) as clock:
        send_sms("13800138000", "第一条")
        delivery.run()  # fails; its retry succeeds below
        clock.shift(dt.timedelta(minutes=1))
        receiver.statuses = []
        delivery.run()
        receiver.statuses = [500]
        send_sms("13800138001", "第二条")
        delivery.run()  # fails: failing since now
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_failed_at=T0)
        clock.shift(dt.timedelta(days=3))
        receiver.statuses = [500]
        send_sms("13800138002", "第三条")
        delivery.run()
    endpoint.refresh_from_db()
    assert endpoint.is_active, "failed twice, days apart: not failing for days"
    assert endpoint.failing_since == T0 + dt.timedelta(days=3, minutes=1)


def test_a_replay_leaves_a_delivery_in_flight_alone(gateway, allow_private, receiver):
    make_endpoint(receiver.url, [EventType.MESSAGE_SENT])
    receiver.statuses = [500]
    send_sms("13800138000", "您的订单已发货")
    delivery.run()
    WebhookDelivery.objects.update(lease_until=timezone.now() + dt.timedelta(minutes=1))
    assert delivery.replay(WebhookDelivery.objects.all()) == 0


def test_a_stored_url_that_no_longer_parses_is_a_failed_attempt(gateway, allow_private):
    WebhookEndpoint.objects.create(
        name="broken", url="http://[::1", events=[EventType.MESSAGE_SENT], secret="s"
    )
    send_sms("13800138000", "您的订单已发货")
    assert delivery.run().failed == 1
    assert "URL" in WebhookAttempt.objects.get().error
