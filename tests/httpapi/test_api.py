"""The HTTP API through its real views: sends, reads, codes, keys, errors."""

import hashlib
import json

import pytest
from django.test import override_settings

from django_xunchen.httpapi import keys
from django_xunchen.models import ApiKey, ApiRequest, Message

pytestmark = pytest.mark.django_db


def test_a_send_with_a_key_and_its_status_read_back(api, xunchen_outbox):
    sent = api(
        "POST", "messages", {"mobiles": ["13800138000", "13900139000"], "content": "您的订单已发货"}
    )
    assert sent.status_code == 201, sent.content
    rows = sent.json()["messages"]
    assert [r["status"] for r in rows] == ["sent", "sent"]
    assert len(xunchen_outbox) == 1 and rows[0]["carrier"] == "mobile"
    read = api("GET", f"messages/{rows[0]['id']}")
    assert read.status_code == 200 and read.json()["msgid"] == rows[0]["msgid"]
    listed = api("GET", "messages", {"mobile": "13900139000"})
    assert [m["id"] for m in listed.json()["messages"]] == [rows[1]["id"]]
    logged = ApiRequest.objects.order_by("pk")
    assert [(r.method, r.status) for r in logged] == [("POST", 201), ("GET", 200), ("GET", 200)]
    assert all(r.api_key is not None for r in logged)


def test_every_send_meets_the_admission_rules(api, xunchen_outbox, settings):
    from django_xunchen.models import Suppression

    Suppression.objects.create(mobile="13800138000", scope="all", source="staff")
    sent = api("POST", "messages", {"mobile": "13800138000", "content": "通知"}).json()
    assert sent["messages"][0]["status"] == "suppressed"
    assert xunchen_outbox == []


def test_the_list_pages_with_a_cursor(api, xunchen_outbox):
    api("POST", "messages", {"mobiles": [f"138001380{i:02d}" for i in range(5)], "content": "x"})
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "messages", query).json()
        seen += [m["mobile"] for m in page["messages"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == [f"138001380{i:02d}" for i in range(5)] and len(seen) == 5


def test_a_key_without_the_codes_scope_gets_403(api, make_key):
    key = make_key(scopes=["send", "read"])
    answer = api("POST", "codes", {"mobile": "13800138000"}, key=key)
    assert answer.status_code == 403
    assert answer.json() == {
        "error": {"code": "scope_missing", "message": "the key lacks the 'codes' scope"}
    }


def test_a_key_for_notifications_cannot_send_marketing(api, make_key, xunchen_outbox):
    key = make_key(scopes=["send"], kinds=["notification"])
    answer = api(
        "POST",
        "messages",
        {"mobile": "13800138000", "content": "促销 回T退订", "kind": "marketing"},
        key=key,
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "kind_not_allowed"
    assert not Message.objects.exists()
    assert (
        api("POST", "messages", {"mobile": "13800138000", "content": "通知"}, key=key).status_code
        == 201
    )


def test_codes_for_a_sibling_services_login(api, xunchen_last_code):
    assert api("POST", "codes", {"mobile": "13800138000", "ip": "203.0.113.9"}).status_code == 201
    code = xunchen_last_code("13800138000")
    wrong = api(
        "POST",
        "codes/check",
        {"mobile": "13800138000", "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.json()["verified"] is False
    right = api("POST", "codes/check", {"mobile": "13800138000", "code": code})
    assert right.json() == {
        "verified": True,
        "status": "verified",
        "attempts_left": right.json()["attempts_left"],
    }
    again = api("POST", "codes", {"mobile": "13800138000"})
    assert again.status_code == 429 and again["Retry-After"], "the cooldown"
    assert code not in json.dumps([r.path for r in ApiRequest.objects.all()])


def test_balance_and_health(api, make_key):
    assert api("GET", "balance").json()["balances"][0]["account"] == "default"
    health = api("GET", "health").json()
    assert {c["name"] for c in health["checks"]} >= {"queue_age", "delivery"}
    only_health = make_key(scopes=["health"])
    assert api("GET", "balance", key=only_health).status_code == 403


def test_a_key_with_the_health_scope_reads_the_health_view_too(client, make_key):
    key = make_key(scopes=["health"])
    assert client.get("/sms/health/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    other = make_key(scopes=["read"])
    assert client.get("/sms/health/", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 401


def test_keys_are_stored_hashed_and_checked_in_full(api, make_key):
    key = make_key()
    row = ApiKey.objects.get(prefix=key.split("_")[1])
    assert key.split("_", 2)[2] not in json.dumps(
        {f.name: str(getattr(row, f.attname)) for f in ApiKey._meta.concrete_fields}
    )
    assert row.secret_hash == keys.digest(key.split("_", 2)[2])
    assert api("GET", "balance", key=key[:-1] + ("A" if key[-1] != "A" else "B")).status_code == 401
    assert api("GET", "balance", key="").status_code == 401
    row.is_active = False
    row.save()
    assert api("GET", "balance", key=key).status_code == 401


def test_the_ip_allow_list(api, make_key):
    key = make_key(allowed_ips="10.0.0.0/8\n2001:db8::1")
    assert api("GET", "balance", key=key, REMOTE_ADDR="10.1.2.3").status_code == 200
    answer = api("GET", "balance", key=key, REMOTE_ADDR="203.0.113.9")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "ip_not_allowed"


def test_each_key_has_its_own_rate_limit(api, make_key):
    slow, other = make_key(per_minute=3), make_key()
    answers = [api("GET", "balance", key=slow).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert api("GET", "balance", key=other).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "invalid_json"),
        ("[1, 2]", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        ({"content": "x"}, 422, "invalid_body"),
        ({"mobiles": "13800138000", "content": "x"}, 422, "invalid_body"),
        ({"mobile": 13800138000, "content": "x"}, 422, "invalid_body"),
        ({"mobile": "138", "content": "x"}, 422, "invalid_mobile"),
        ({"mobile": "13800138000", "content": "x", "kind": "spam"}, 422, "invalid_kind"),
        ({"mobile": "13800138000", "content": "x", "account": "nope"}, 422, "invalid_account"),
        ({"mobile": "13800138000", "content": "x", "send_at": "tomorrow"}, 422, "invalid_body"),
        (
            {"mobile": "13800138000", "content": "x", "send_at": "2026-12-07T09:00:00"},
            422,
            "invalid_body",
        ),
        ({"mobile": "13800138000", "content": "x", "tags": [1]}, 422, "invalid_body"),
        ({"mobile": "13800138000", "content": "x", "background": "yes"}, 422, "invalid_body"),
        ({"mobile": "13800138000", "content": "x", "metadata": [1]}, 422, "invalid_body"),
        ({"mobile": "13800138000", "content": ""}, 422, "invalid_content"),
        ({"mobiles": ["13800138000"] * 10001, "content": "x"}, 422, "invalid_body"),
    ],
)
def test_bad_bodies_get_one_error_shape_and_nothing_is_written(api, body, status, code):
    answer = api("POST", "messages", body)
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["code"] == code
    assert set(answer.json()["error"]) <= {"code", "message", "details"}
    assert not Message.objects.exists()


def test_bad_queries_and_methods(api):
    assert api("GET", "messages", {"limit": "x"}).status_code == 422
    assert api("GET", "messages", {"cursor": "!!!"}).json()["error"]["code"] == "invalid_query"
    assert api("GET", "messages/999999").status_code == 404
    assert api("DELETE", "messages").status_code == 405
    assert api("POST", "balance").status_code == 405


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_too_large_is_413(api):
    assert (
        api("POST", "messages", {"mobile": "13800138000", "content": "x" * 200}).status_code == 413
    )


def test_the_same_idempotency_key_sends_once_and_answers_the_same(api, xunchen_outbox):
    body = {"mobile": "13800138000", "content": "订单 1 已发货"}
    first = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="order-1-shipped")
    second = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="order-1-shipped")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(xunchen_outbox) == 1 and Message.objects.count() == 1
    other = api(
        "POST", "messages", {**body, "content": "订单 2"}, HTTP_IDEMPOTENCY_KEY="order-1-shipped"
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Message.objects.count() == 1


def test_an_idempotent_refusal_is_answered_again_without_sending(api, xunchen_outbox):
    body = {"mobile": "138", "content": "x"}
    first = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 422
    assert api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k").json() == first.json()


def test_idempotency_keys_belong_to_their_api_key(api, make_key, xunchen_outbox):
    body = {"mobile": "13800138000", "content": "x"}
    api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="same")
    api("POST", "messages", body, key=make_key(name="crm"), HTTP_IDEMPOTENCY_KEY="same")
    assert Message.objects.count() == 2


def test_fingerprints_ignore_key_order():
    from django_xunchen.httpapi.idempotency import fingerprint

    assert fingerprint("POST", "/a", {"a": 1, "b": 2}) == fingerprint(
        "POST", "/a", {"b": 2, "a": 1}
    )
    assert len(hashlib.sha256().hexdigest()) == len(fingerprint("POST", "/a", {}))


def test_a_transient_answer_releases_the_idempotency_key(api, xunchen_last_code):
    """A throttled code request is a 429: the key is released, so that the same key
    succeeds once the throttle has passed; a refusal (422) is kept."""
    import time_machine
    from django.utils import timezone

    body = {"mobile": "13800138000"}
    assert api("POST", "codes", body, HTTP_IDEMPOTENCY_KEY="first").status_code == 201
    throttled = api("POST", "codes", body, HTTP_IDEMPOTENCY_KEY="login-2")
    assert throttled.status_code == 429
    with time_machine.travel(timezone.now() + __import__("datetime").timedelta(minutes=2)):
        again = api("POST", "codes", body, HTTP_IDEMPOTENCY_KEY="login-2")
    assert again.status_code == 201, again.content
    refused = api("POST", "codes", {"mobile": "138"}, HTTP_IDEMPOTENCY_KEY="bad")
    assert refused.status_code == 422
    assert (
        api("POST", "codes", {"mobile": "138"}, HTTP_IDEMPOTENCY_KEY="bad").json() == refused.json()
    )


def test_chinese_text_comes_back_as_text(api, xunchen_outbox):
    answer = api("POST", "messages", {"mobile": "13800138000", "content": "您的订单已发货"})
    assert "您的订单已发货".encode() in answer.content
