"""The admin for verification codes: records without the code, throttles staff can lift,
the volume banner, no resend of a code message."""

import pytest
from django.urls import reverse

from django_xunchen.models import Message, ThrottleEvent
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db
NUMBER = "13800138000"


def test_staff_lift_a_number_s_throttle_from_the_admin(admin_client, xunchen_outbox):
    request_code(NUMBER)
    assert request_code(NUMBER).reason == "cooldown"
    url = reverse("admin:django_xunchen_throttleevent_changelist")
    page = admin_client.get(url + "?outcome__exact=throttled")
    assert page.status_code == 200 and len(page.context["cl"].result_list) == 1
    event = ThrottleEvent.objects.get(outcome="sent")
    response = admin_client.post(
        url, {"action": "lift_selected", "_selected_action": [event.pk]}, follow=True
    )
    assert "Lifted the throttles of 1 number" in response.content.decode()
    assert request_code(NUMBER).sent


def test_lifting_needs_its_permission(client, xunchen_outbox):
    from django.contrib.auth.models import Permission, User

    viewer = User.objects.create_user("v", password="pw", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_throttleevent"))
    client.force_login(viewer)
    request_code(NUMBER)
    url = reverse("admin:django_xunchen_throttleevent_changelist")
    page = client.get(url)
    assert page.status_code == 200 and "lift_selected" not in page.content.decode()
    event = ThrottleEvent.objects.get()
    client.post(url, {"action": "lift_selected", "_selected_action": [event.pk]})
    assert not ThrottleEvent.objects.filter(lifted=True).exists()


def test_the_volume_banner(admin_client, settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"DAILY_ALARM": 2, "COOLDOWN": 0}}
    changelist = reverse("admin:django_xunchen_message_changelist")
    request_code(NUMBER)
    assert "Verification code volume alarm" not in admin_client.get(changelist).content.decode()
    request_code("13900139000")
    page = admin_client.get(changelist).content.decode()
    assert "Verification code volume alarm" in page and "2 code SMS were sent today" in page


def test_a_code_message_has_no_resend(admin_client, xunchen_outbox):
    request_code(NUMBER)
    message = Message.objects.get()
    page = admin_client.post(
        reverse("admin:django_xunchen_message_changelist"),
        {"action": "resend_selected", "_selected_action": [message.pk]},
    )
    assert page.context["sendable"] == [] and page.context["skipped"] == 1


def test_the_verification_record_shows_no_secret(admin_client, xunchen_outbox):
    from django_xunchen.models import VerificationCode

    request_code(NUMBER)
    record = VerificationCode.objects.get()
    page = admin_client.get(
        reverse("admin:django_xunchen_verificationcode_change", args=[record.pk])
    ).content.decode()
    assert record.nonce not in page and record.code_hash not in page
    assert NUMBER in page and "active" in page
