import pytest
from django.contrib.auth.models import Permission, User

from django_xunchen.models import Template


@pytest.fixture
def template(db):
    return Template.objects.create(
        template_id="JSM40001-0001",
        name="Verification code",
        body="尊敬的@1@,您的验证码为@2@，请及时输入。",
    )


def _staff(username, *codenames):
    user = User.objects.create_user(username, password="pw", is_staff=True)
    perms = Permission.objects.filter(
        content_type__app_label="django_xunchen", codename__in=codenames
    )
    assert perms.count() == len(codenames), codenames
    user.user_permissions.set(perms)
    return user


@pytest.fixture
def viewer(db, client):
    """Staff who may only look at messages."""
    client.force_login(_staff("viewer", "view_message"))
    return client


@pytest.fixture
def operator(db, client):
    """Staff with every SMS permission, but not a superuser."""
    client.force_login(
        _staff(
            "operator",
            "view_message",
            "send_sms",
            "resend_message",
            "check_balance",
            "view_dashboard",
            "view_template",
            "view_report",
            "view_inboundmessage",
        )
    )
    return client
