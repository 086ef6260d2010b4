"""Every admin page answers in at most 10 queries, at any number of rows: the counts are
deterministic, so they are asserted here (the timings at a million rows are in the
benchmark)."""

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.httpapi.keys import create_key
from django_xunchen.models import (
    ApiKey,
    ApiRequest,
    BlockedWord,
    Campaign,
    CampaignRecipient,
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    Suppression,
    Template,
    ThrottleEvent,
    VerificationCode,
)
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db
LIMIT = 10


@pytest.fixture
def data(template, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SENDER_NUMBER": locmem.SENDER_NUMBER}
    numbers = [f"1380000{i:04d}" for i in range(60)]
    sent = send_sms(numbers, "您的订单已发货，回T退订", extcode="9")
    send_sms(numbers[:5], template=template, params=["张三", "1234"])
    locmem.deliver_all()
    for mobile in numbers[:3]:
        locmem.queue_reply(mobile, "好的", extcode="9")
    locmem.queue_reply("13900000000", "T")
    poll(force=True)
    request_code("13700000000", "login", ip="203.0.113.9")
    BlockedWord.objects.create(word="发票", source=sent[0])
    campaign = Campaign.objects.create(name="春季", content="春季上新", state="draft")
    CampaignRecipient.objects.bulk_create(
        [CampaignRecipient(campaign=campaign, row=i, mobile=n) for i, n in enumerate(numbers)]
    )
    api_keys = [create_key(f"service {i}", scopes=["send", "read"])[0] for i in range(3)]
    ApiRequest.objects.bulk_create(
        [
            ApiRequest(
                api_key=api_keys[i % 4] if i % 4 < 3 else None,
                method="POST",
                path="/sms/api/v1/messages",
                status=201 if i % 5 else 422,
                error="" if i % 5 else "invalid_mobile",
                ip="192.0.2.7",
                idempotency_key=f"order-{i}",
            )
            for i in range(40)
        ]
    )
    return {"campaign": campaign}


def pages(data):
    def change(model):
        return reverse(
            f"admin:django_xunchen_{model._meta.model_name}_change",
            args=[model.objects.order_by("pk").first().pk],
        )

    def changelist(model, query=""):
        return reverse(f"admin:django_xunchen_{model._meta.model_name}_changelist") + query

    yield changelist(Message)
    yield changelist(Message, "?status__exact=delivered&kind__exact=notification")
    yield changelist(Message, "?q=发货")
    yield changelist(Message, "?q=13800000001")
    yield changelist(Message, "?created_at__range__gte_0=2020-01-01")
    yield change(Message)
    yield reverse("admin:django_xunchen_message_send")
    yield reverse("admin:django_xunchen_message_dashboard")
    yield reverse("admin:django_xunchen_message_analytics")
    yield reverse("admin:django_xunchen_message_analytics") + "?export=csv&kind=marketing"
    yield reverse("admin:django_xunchen_message_balance")
    for model in (
        Template,
        Report,
        InboundMessage,
        PollJournalEntry,
        VerificationCode,
        ThrottleEvent,
        Suppression,
        BlockedWord,
        Campaign,
        ApiKey,
        ApiRequest,
    ):
        yield changelist(model)
        yield change(model)
    yield reverse("admin:django_xunchen_campaign_change", args=[data["campaign"].pk])


@pytest.fixture
def mid_hour():
    """Today at 12:30 local time, so that the hour does not turn during the test: the
    first dashboard of an hour may roll today up again when no poll has (the poll in
    ``data`` has)."""
    noon = timezone.localtime().replace(hour=12, minute=30, second=0, microsecond=0)
    with time_machine.travel(noon, tick=True):
        yield


def test_every_admin_page_makes_at_most_ten_queries(mid_hour, admin_client, data):
    assert Suppression.objects.exists() and ThrottleEvent.objects.exists()
    over = {}
    for url in pages(data):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(url)
        assert response.status_code == 200, url
        if len(queries) > LIMIT:
            over[url] = [q["sql"][:150] for q in queries]
    assert not over, "\n\n".join(
        f"{url}: {len(sql)}\n" + "\n".join(sql) for url, sql in over.items()
    )
