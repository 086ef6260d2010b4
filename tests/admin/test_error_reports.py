"""Neither the gateway password nor its communication key appears in Django's error
reports: the e-mail to ADMINS and the logged report (DEBUG=False), or the debug page
(DEBUG=True), with a forced error deep in a send from the admin."""

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from urllib3.connectionpool import HTTPConnectionPool

SEND = reverse("admin:django_xunchen_message_send")
PASSWORD = "pa55-Very-Secret"
VERY_CODE = "key-0987654321"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failing_gateway(settings, monkeypatch):
    settings.XUNCHEN = {
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BASE_URL": "http://127.0.0.1:9",
        "USERNAME": "JSM40001",
        "PASSWORD": PASSWORD,
        "VERY_CODE": VERY_CODE,
    }
    settings.ADMINS = [("Ops", "ops@example.com")]

    def urlopen(self, method, url, body=None, headers=None, **kwargs):
        raise RuntimeError("forced failure inside the HTTP stack")

    monkeypatch.setattr(HTTPConnectionPool, "urlopen", urlopen)


@pytest.fixture
def staff_client():
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("boss", "b@example.com", "pw"))
    return client


def _post(client):
    response = client.post(SEND, {"mobiles": "13800138000", "content": "出错测试"})
    assert response.status_code == 500
    return response


@pytest.fixture
def html_error_email(monkeypatch):
    """Django's mail_admins handler, with the HTML report (frame locals) attached."""
    import logging

    from django.utils.log import AdminEmailHandler

    (handler,) = [
        h for h in logging.getLogger("django").handlers if isinstance(h, AdminEmailHandler)
    ]
    monkeypatch.setattr(handler, "include_html", True)


def test_the_error_email_and_its_report_hide_both_secrets(
    failing_gateway, staff_client, html_error_email
):
    _post(staff_client)
    (email,) = mail.outbox
    texts = [email.body] + [content for content, _ in email.alternatives]
    report = "\n".join(texts)
    assert "forced failure inside the HTTP stack" in report
    assert "XUNCHEN" in report, "the settings section is there"
    assert "Local Vars" in report, "frame locals are there"
    assert "credentials masked" in report, "the form body is among them, masked"
    assert PASSWORD not in report
    assert VERY_CODE not in report


def test_the_debug_page_hides_both_secrets(failing_gateway, staff_client, settings):
    settings.DEBUG = True
    page = _post(staff_client).content.decode()
    assert "forced failure inside the HTTP stack" in page
    assert "XUNCHEN" in page
    assert PASSWORD not in page
    assert VERY_CODE not in page


def test_masked_settings_are_still_the_real_strings(failing_gateway, settings):
    from django_xunchen.conf import xunchen_settings

    conf = xunchen_settings()
    assert conf["VERY_CODE"] == VERY_CODE and f"{conf['VERY_CODE']}" == VERY_CODE
    assert VERY_CODE not in repr(conf) and VERY_CODE not in repr(settings.XUNCHEN)
