"""API keys in the admin: made there, shown once, never again."""

import re

import pytest

from django_xunchen.httpapi import keys
from django_xunchen.models import ApiKey

pytestmark = pytest.mark.django_db
ADD = "/admin/django_xunchen/apikey/add/"


def test_a_key_is_made_in_the_admin_and_shown_once(admin_client, client):
    page = admin_client.post(
        ADD,
        {
            "name": "订单服务",
            "scopes": ["send", "read"],
            "kinds": ["notification"],
            "allowed_ips": "10.0.0.0/8",
            "per_minute": "120",
            "is_active": "on",
        },
    )
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    shown = re.search(r'value="(xc_[0-9a-f]+_[A-Za-z0-9_-]+)"', page.content.decode()).group(1)
    row = ApiKey.objects.get()
    assert row.scopes == ["read", "send"] and row.kinds == ["notification"]
    assert row.secret_hash == keys.digest(shown.split("_", 2)[2])
    secret = shown.split("_", 2)[2]
    for url in ("/admin/django_xunchen/apikey/", f"/admin/django_xunchen/apikey/{row.pk}/change/"):
        assert secret not in admin_client.get(url).content.decode()
    answer = client.get(
        "/sms/api/v1/balance", HTTP_AUTHORIZATION=f"Bearer {shown}", REMOTE_ADDR="10.9.9.9"
    )
    assert answer.status_code == 200


def test_a_bad_allow_list_is_refused_before_anything_is_written(admin_client):
    page = admin_client.post(
        ADD,
        {
            "name": "x",
            "scopes": ["read"],
            "allowed_ips": "10.0.0.0/8\nlocalhost",
            "per_minute": "60",
        },
    )
    assert "not an IP address or network: &#x27;localhost&#x27;" in page.content.decode()
    assert not ApiKey.objects.exists()


def test_editing_a_key_keeps_its_secret(admin_client):
    row, shown = keys.create_key("crm", scopes=["read"])
    admin_client.post(
        f"/admin/django_xunchen/apikey/{row.pk}/change/",
        {"name": "crm", "scopes": ["read", "health"], "per_minute": "60", "is_active": "on"},
    )
    row.refresh_from_db()
    assert row.scopes == ["health", "read"]
    assert row.secret_hash == keys.digest(shown.split("_", 2)[2])
