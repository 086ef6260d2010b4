"""The JSON views (which need CSRF) and the phone code form."""

import pytest
from django.urls import reverse

from django_xunchen.testing import last_code
from django_xunchen.verification.codes import (
    request_code,
)

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"


def test_the_json_views(client, xunchen_outbox):
    request_url, check_url = (
        reverse("django_xunchen:request_code"),
        reverse("django_xunchen:check_code"),
    )
    sent = client.post(request_url, {"mobile": NUMBER, "purpose": "login"})
    assert sent.status_code == 200 and sent.json() == {"status": "sent", "retry_after": 60}
    again = client.post(request_url, {"mobile": NUMBER}, content_type="application/json")
    assert again.status_code == 429 and again["Retry-After"]
    wrong = client.post(check_url, {"mobile": NUMBER, "code": "x"})
    assert wrong.status_code == 400 and wrong.json()["status"] == "wrong"
    right = client.post(check_url, {"mobile": NUMBER, "code": last_code(NUMBER)})
    assert right.json() == {"status": "verified", "attempts_left": 0}
    assert client.post(request_url, {"mobile": NUMBER, "purpose": "admin"}).status_code == 400
    assert client.post(request_url, {"mobile": "123"}).status_code == 400
    assert client.get(request_url).status_code == 405


def test_the_json_views_need_csrf(xunchen_outbox):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post(reverse("django_xunchen:request_code"), {"mobile": NUMBER}).status_code == 403
    )
    assert not xunchen_outbox


def test_the_phone_code_form(xunchen_outbox):
    from django_xunchen.forms import PhoneCodeForm

    request_code(NUMBER)
    form = PhoneCodeForm({"mobile": "+86 138-0013-8000", "code": "12"})
    assert not form.is_valid() and "code" in form.errors
    wrong = str((int(last_code(NUMBER)) + 1) % 10**6).zfill(6)
    form = PhoneCodeForm({"mobile": NUMBER, "code": wrong})
    assert not form.is_valid() and form.non_field_errors() == ["The code is wrong."]
    form = PhoneCodeForm({"mobile": "+86 138-0013-8000", "code": last_code(NUMBER)})
    assert form.is_valid() and form.cleaned_data["mobile"] == NUMBER
