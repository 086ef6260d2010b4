import pytest
from django.urls import reverse

from django_xunchen import send_sms
from django_xunchen.models import Message

from .conftest import _staff

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:django_xunchen_message_changelist")
SEND = reverse("admin:django_xunchen_message_send")
BALANCE = reverse("admin:django_xunchen_message_balance")
DASHBOARD = reverse("admin:django_xunchen_message_dashboard")


def test_viewer_sees_no_buttons_and_gets_403(viewer):
    send_sms("13800138000", "x")
    response = viewer.get(CHANGELIST)
    page = response.content.decode()
    assert response.status_code == 200
    for url in (SEND, BALANCE, DASHBOARD):
        assert url not in page
        assert viewer.get(url).status_code == 403
    action_form = response.context["action_form"]
    actions = dict(action_form.fields["action"].choices) if action_form else {}
    assert "resend_selected" not in actions and "check_balance" not in actions
    assert viewer.post(SEND, {"mobiles": "13800138000", "content": "x"}).status_code == 403
    assert Message.objects.count() == 1


def test_viewer_cannot_run_the_resend_action_by_posting(viewer):
    (message,) = send_sms("13800138000", "x")
    response = viewer.post(
        CHANGELIST, {"action": "resend_selected", "_selected_action": [message.pk], "post": "yes"}
    )
    assert Message.objects.count() == 1
    assert response.status_code == 200
    assert "resend_selected" not in actions_of(response)


def actions_of(response):
    form = response.context["action_form"]
    return dict(form.fields["action"].choices) if form else {}


ONE_EACH = ["send_sms", "resend_message", "check_balance", "view_dashboard"]


@pytest.mark.parametrize("granted", ONE_EACH)
def test_each_custom_permission_opens_exactly_its_own_door(client, granted):
    """Staff holding view_message and exactly one custom permission."""
    client.force_login(_staff(f"only-{granted}", "view_message", granted))
    (message,) = send_sms("13800138000", "x")
    message.status = "failed"
    message.save()
    pages = {"send_sms": SEND, "check_balance": BALANCE, "view_dashboard": DASHBOARD}
    for perm, url in pages.items():
        expected = 200 if perm == granted else 403
        assert client.get(url).status_code == expected, (perm, url)
    actions = actions_of(client.get(CHANGELIST))
    assert ("resend_selected" in actions) == (granted == "resend_message")
    assert ("check_balance" in actions) == (granted == "check_balance")
    client.post(
        CHANGELIST, {"action": "resend_selected", "_selected_action": [message.pk], "post": "yes"}
    )
    resent = Message.objects.filter(resent_from=message).count()
    assert resent == (1 if granted == "resend_message" else 0)
    sent = client.post(SEND, {"mobiles": "13900000000", "content": "y"})
    assert sent.status_code == (302 if granted == "send_sms" else 403)


def test_operator_has_everything(operator):
    page = operator.get(CHANGELIST).content.decode()
    for url in (SEND, BALANCE, DASHBOARD):
        assert url in page
        assert operator.get(url).status_code == 200
    actions = dict(operator.get(CHANGELIST).context["action_form"].fields["action"].choices)
    assert {"resend_selected", "check_balance"} <= set(actions)


def test_anonymous_is_sent_to_login(client):
    response = client.get(SEND)
    assert response.status_code == 302 and "/login/" in response["Location"]
