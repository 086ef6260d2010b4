"""Webhook endpoints in the admin: made there, the secret shown once; a private URL
refused before anything is written; deliveries with their attempts, and the replay."""

import re

import pytest

from django_xunchen.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from django_xunchen.webhooks import delivery, events

pytestmark = pytest.mark.django_db
ADD = "/admin/django_xunchen/webhookendpoint/add/"


def form(url, **more):
    return {
        "name": "订单系统",
        "url": url,
        "events": ["message.delivered", "reply.received"],
        "account": "",
        "kind": "",
        "is_active": "on",
        **more,
    }


def test_an_endpoint_is_made_in_the_admin_and_its_secret_shown_once(
    admin_client, allow_private, receiver
):
    page = admin_client.post(ADD, form(receiver.url))
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    shown = re.search(r'value="(whsec_[A-Za-z0-9_-]+)"', page.content.decode()).group(1)
    row = WebhookEndpoint.objects.get()
    assert row.secret == shown and row.events == ["message.delivered", "reply.received"]
    for url in (
        "/admin/django_xunchen/webhookendpoint/",
        f"/admin/django_xunchen/webhookendpoint/{row.pk}/change/",
    ):
        assert shown not in admin_client.get(url).content.decode()
    admin_client.post(
        f"/admin/django_xunchen/webhookendpoint/{row.pk}/change/", form(receiver.url, name="x")
    )
    row.refresh_from_db()
    assert (row.name, row.secret) == ("x", shown), "a change keeps the secret"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hooks",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hooks",
        "http://2130706433/",
        "http://[fec0::1]:6379/",
        "ftp://example.com/hooks",
        "https://user:pw@example.com/hooks",
    ],
)
def test_a_private_or_unsafe_url_is_refused_before_anything_is_written(admin_client, url):
    page = admin_client.post(ADD, form(url))
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["url"]
    assert not WebhookEndpoint.objects.exists()


def test_deliveries_show_their_attempts_and_are_replayed(
    admin_client, allow_private, receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(
        name="crm", url=receiver.url, events=[EventType.REPLY_RECEIVED], secret="whsec_t"
    )
    receiver.statuses = [500]
    events.record(EventType.REPLY_RECEIVED, [42])
    delivery.run()
    row = WebhookDelivery.objects.get()
    page = admin_client.get(f"/admin/django_xunchen/webhookdelivery/{row.pk}/change/")
    text = page.content.decode()
    assert page.status_code == 200 and "HTTP 500" in text and "reply.received" in text
    assert "whsec_t" not in text
    listing = admin_client.get("/admin/django_xunchen/webhookdelivery/")
    assert listing.status_code == 200 and str(row.event.event_id) in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/django_xunchen/webhookdelivery/",
            {"action": "replay_selected", "_selected_action": [row.pk]},
        )
    delivery.run()
    assert WebhookDelivery.objects.get().status == "delivered"
    assert WebhookAttempt.objects.filter(replay=True, status_code=200).count() == 1
    assert len({r.event["id"] for r in receiver.received}) == 1
    assert endpoint.deliveries.count() == 1
