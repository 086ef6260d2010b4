"""One number's conversation in the admin: its messages and replies in time order, its
suppression state, and a reply box that sends a notification through admission."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from django_xunchen.consent import grant_consent, withdraw_consent
from django_xunchen.models import InboundMessage, Message, Suppression

from .conftest import _staff

pytestmark = pytest.mark.django_db
MOBILE = "13800138000"
URL = reverse("admin:django_xunchen_message_conversation", args=[MOBILE])


def thread():
    """A notice, a reply to it, then a marketing message delivered, in that order; and
    a message to another number, which is not part of it."""
    start = timezone.now() - dt.timedelta(hours=3)
    notice = Message.objects.create(mobile=MOBILE, content="您的订单已发货", status="delivered")
    reply = InboundMessage.objects.create(
        mobile=MOBILE,
        recvcode="106905994140010",
        content="什么时候到？",
        received_at=start + dt.timedelta(hours=1),
        message=notice,
    )
    offer = Message.objects.create(
        mobile=MOBILE, content="双十二全场五折", kind="marketing", status="undelivered"
    )
    Message.objects.create(mobile="13900139000", content="别人的", status="sent")
    Message.objects.filter(pk=notice.pk).update(created_at=start)
    Message.objects.filter(pk=offer.pk).update(created_at=start + dt.timedelta(hours=2))
    return notice, reply, offer


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Conversation with 13800138000", "Not on the suppression list", "delivered"]),
        ("zh-hans", ["与 13800138000 的往来", "不在屏蔽名单", "已送达"]),
    ],
)
def test_the_thread_in_time_order_in_both_languages(admin_client, language, words):
    notice, reply, offer = thread()
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    order = [page.index(f'id="message-{notice.pk}"'), page.index(f'id="reply-{reply.pk}"')]
    order.append(page.index(f'id="message-{offer.pk}"'))
    assert order == sorted(order)
    assert "别人的" not in page
    for word in words:
        assert word in page, word
    assert 'id="conversation-reply"' in page


def test_the_suppression_state_is_shown(admin_client):
    Suppression.objects.create(mobile=MOBILE, scope="marketing", source="reply")
    page = admin_client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "On the suppression list (marketing only), by reply keyword" in page


def test_the_consent_state_is_shown_with_the_evidence_link_to_those_who_may(admin_client, client):
    page = admin_client.get(URL).content.decode()
    assert "No consent to marketing recorded." in page
    grant_consent(MOBILE, source="form", at=timezone.make_aware(dt.datetime(2026, 11, 1, 9, 30)))
    page = admin_client.get(URL).content.decode()
    assert "Consents to marketing since 2026-11-01 09:30 (web form)." in page
    evidence = reverse("admin:django_xunchen_consent_evidence", args=[MOBILE])
    assert evidence in page
    withdraw_consent(MOBILE)
    assert "Withdrew consent to marketing on" in admin_client.get(URL).content.decode()
    client.force_login(_staff("reader", "view_message"))
    assert evidence not in client.get(URL).content.decode()


def test_a_reply_is_a_notification_sent_through_admission(admin_client, xunchen_outbox):
    thread()
    answer = admin_client.post(URL, {"content": "明天下午送达。", "account": "default"})
    assert answer.status_code == 302 and answer.url == URL
    sent = Message.objects.order_by("-pk").first()
    assert (sent.mobile, sent.kind, sent.status) == (MOBILE, "notification", "sent")
    assert [s.mobiles for s in xunchen_outbox] == [(MOBILE,)]
    assert "明天下午送达。" in admin_client.get(URL).content.decode()


def test_a_number_suppressed_for_everything_gets_no_reply(admin_client, xunchen_outbox):
    Suppression.objects.create(mobile=MOBILE, scope="all", source="staff")
    admin_client.post(URL, {"content": "您好", "account": "default"})
    assert Message.objects.get().status == "suppressed"
    assert not xunchen_outbox


def test_staff_who_may_not_send_see_no_reply_box_and_cannot_post(client, xunchen_outbox):
    thread()
    client.force_login(_staff("viewer", "view_message"))
    page = client.get(URL).content.decode()
    assert "什么时候到" not in page, "replies need their own view permission"
    assert "conversation-reply" not in page
    assert client.post(URL, {"content": "x", "account": "default"}).status_code == 403
    assert not xunchen_outbox


def test_a_number_that_is_no_number_is_not_found(admin_client):
    url = reverse("admin:django_xunchen_message_conversation", args=["12345"])
    assert admin_client.get(url).status_code == 404


def test_the_message_and_the_reply_pages_link_to_it(admin_client):
    notice, reply, _offer = thread()
    for name, pk in (("message", notice.pk), ("inboundmessage", reply.pk)):
        page = admin_client.get(reverse(f"admin:django_xunchen_{name}_change", args=[pk]))
        assert f'href="{URL}"' in page.content.decode(), name
