"""The send form's preview counts apart the numbers a send would not send: the server
screens them with admission's own rule, and writes nothing."""

import pytest
from django.urls import reverse

from django_xunchen.models import Message, Suppression

pytestmark = pytest.mark.django_db
URL = reverse("admin:django_xunchen_message_send_numbers")


def ask(client, mobiles, kind="marketing"):
    return client.post(URL, {"mobiles": mobiles, "kind": kind, "account": ""}).json()


def test_suppressed_numbers_and_the_daily_cap_are_counted_apart(admin_client, settings):
    Suppression.objects.create(mobile="13900000000", scope="marketing", source="reply")
    typed = "13800138000\n+86 139-0000-0000\n13800138000, not a number"
    assert ask(admin_client, typed) == {"numbers": 2, "suppressed": 1}
    assert ask(admin_client, typed, "notification") == {"numbers": 2, "suppressed": 0}
    settings.XUNCHEN = {**settings.XUNCHEN, "MARKETING_DAILY_CAP": 1}
    Message.objects.create(mobile="13800138000", content="x", kind="marketing", status="sent")
    assert ask(admin_client, typed) == {"numbers": 2, "suppressed": 2}
    assert Message.objects.count() == 1, "the preview writes nothing"


def test_hostile_input_is_an_answer(admin_client):
    assert ask(admin_client, "1" * 1_000_000, kind="nonsense") == {"numbers": 0, "suppressed": 0}
    answer = admin_client.post(URL, {"mobiles": "13800138000", "account": "../../etc"})
    assert answer.json() == {"numbers": 1, "suppressed": 0}


def test_only_staff_who_may_send_ask(client, admin_client):
    from .conftest import _staff

    client.force_login(_staff("viewer", "view_message"))
    assert client.post(URL, {"mobiles": "13800138000"}).status_code == 403
    assert admin_client.get(URL).status_code == 405
