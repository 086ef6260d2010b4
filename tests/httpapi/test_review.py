"""A hostile caller's requests: each once gave a 500, leaked or was let through."""

import pytest

from django_xunchen.models import Message

pytestmark = pytest.mark.django_db

SEND = '{"mobile": "13800138000", "content": "x", '


@pytest.mark.parametrize(
    "raw",
    [
        SEND + '"n": ' + "9" * 5000 + "}",  # past Python's int-to-str digit limit
        "[" * 100_000 + "]" * 100_000,  # deeper than the decoder's recursion
        SEND + '"metadata": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}",
        SEND + '"metadata": {"a": NaN}}',  # not JSON, though Python reads it
        SEND + '"metadata": {"a": Infinity}}',
        SEND + '"metadata": {"a": 1e400}}',  # a float too large: Python reads inf
    ],
    ids=["huge-int", "deep-array", "deep-object", "nan", "infinity", "1e400"],
)
def test_a_body_python_reads_but_json_forbids_is_a_400(api, raw, xunchen_outbox):
    answer = api("POST", "messages", raw)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid_json"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (SEND + '"tags": ["a\\u0000"]}', "tags"),
        (SEND + '"metadata": {"a": "\\u0000"}}', "metadata"),
        (SEND + '"metadata": {"\\u0000": 1}}', "metadata"),
        (SEND + '"metadata": {"a": ["\\ud800"]}}', "metadata"),
        (SEND + '"tags": ["\\udfff"]}', "tags"),
        ('{"mobile": "13800138000", "template": "T\\u0000", "params": {}}', "template"),
    ],
    ids=["nul-tag", "nul-value", "nul-key", "surrogate-deep", "surrogate-tag", "nul-template"],
)
def test_text_no_database_can_store_is_a_422_naming_its_field(api, raw, field, xunchen_outbox):
    """PostgreSQL refuses a NUL character in text and JSON, and an unpaired surrogate is
    not UTF-8: both were a 500 (the JSON escapes \\u0000 and \\ud800 carry them)."""
    for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": "k"}):
        answer = api("POST", "messages", raw, **headers)
        assert answer.status_code == 422, answer.content
        assert answer.json()["error"]["code"] == "invalid_body"
        assert answer.json()["error"]["details"] == {"field": field}
    assert not Message.objects.exists()


def b64(text):
    import base64

    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-02-30T09:00:00+08:00",  # no such day: parse_datetime raises
        "2030-01-01T09:00:00+25:00",  # no such offset
        "9999-12-31T23:59:59-01:00",  # past year 9999 in UTC
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ],
)
def test_a_time_that_is_no_time_is_a_422_not_a_500(api, moment, xunchen_outbox):
    for field in ("send_at", "expires_at"):
        answer = api("POST", "messages", {"mobile": "13800138000", "content": "x", field: moment})
        assert answer.status_code == 422, (field, answer.content)
        assert answer.json()["error"]["code"] in ("invalid_body", "invalid_send_time")
    for name in ("created_after", "created_before"):
        answer = api("GET", "messages", {name: moment})
        assert answer.status_code == 422, (name, answer.content)
        assert answer.json()["error"] == {
            "code": "invalid_query",
            "message": answer.json()["error"]["message"],
            "details": {"field": name},
        }
    answer = api("GET", "messages", {"cursor": b64(f"{moment}|1")})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_query"
    assert not Message.objects.exists()


def test_a_query_time_without_its_offset_is_an_invalid_query(api):
    answer = api("GET", "messages", {"created_after": "2026-01-01T00:00:00"})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_query"
    cursor = api("GET", "messages", {"cursor": b64("2026-01-01T00:00:00|1")})
    assert cursor.status_code == 422 and cursor.json()["error"]["code"] == "invalid_query"


@pytest.mark.parametrize("name", ["status", "kind", "account", "mobile", "msgid", "tag"])
def test_a_nul_in_a_list_filter_is_an_invalid_query(api, name):
    """``?mobile=%00`` reaches the view through any server: PostgreSQL refused it (500)."""
    answer = api("GET", "messages", {name: "1\x00"})
    assert answer.status_code == 422, answer.content
    assert answer.json()["error"]["code"] == "invalid_query"
    assert answer.json()["error"]["details"] == {"field": name}


@pytest.mark.parametrize("token", ["xc_\x00_x", "xc_abc\x00_x", "xc_" + "a" * 5000 + "_x"])
def test_a_malformed_key_is_a_401_on_the_api_and_the_health_view(api, client, token):
    """The prefix went to the database as given: a NUL in it was a 500 on PostgreSQL."""
    answer = api("GET", "balance", key=token)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"
    assert client.get("/sms/health/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


@pytest.mark.parametrize("idem", ["a\x00b", "a\nb", "a\tb", "a\x7fb"])
def test_an_idempotency_key_with_a_control_character_is_refused_and_logged_blank(
    api, idem, xunchen_outbox
):
    """A NUL in the key was a 500 from PostgreSQL, on taking the key and on logging it
    (a request without a valid API key too)."""
    from django_xunchen.models import ApiRequest

    body = {"mobile": "13800138000", "content": "x"}
    answer = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY=idem)
    assert answer.status_code == 422, answer.content
    assert answer.json()["error"]["code"] == "invalid_idempotency_key"
    assert api("POST", "messages", body, key="xc_0_0", HTTP_IDEMPOTENCY_KEY=idem).status_code == 401
    assert not Message.objects.exists() and xunchen_outbox == []
    assert [r.idempotency_key for r in ApiRequest.objects.all()] == ["", ""]


def test_an_unexpected_error_is_a_500_in_the_error_shape_logged_and_releases_the_key(
    api, settings, monkeypatch, xunchen_outbox, caplog
):
    """errors.py promises ``internal`` for an exception the map does not know; an
    ImproperlyConfigured or a RuntimeError escaped as Django's HTML 500, unlogged."""
    from django_xunchen.httpapi import views
    from django_xunchen.models import ApiRequest

    body = {"mobile": "13800138000", "content": "x"}
    xunchen = settings.XUNCHEN
    settings.XUNCHEN = {**xunchen, "BACKEND": "nowhere.SMSBackend"}
    answer = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "not_configured"
    assert "nowhere" not in answer.content.decode(), "the server's detail stays in its log"
    settings.XUNCHEN = xunchen

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "send_sms", broken)
    answer = api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"code": "internal", "message": "an unexpected error; see the server's log"}
    }
    assert "a bug" in caplog.text
    assert [(r.status, r.error) for r in ApiRequest.objects.order_by("pk")] == [
        (500, "not_configured"),
        (500, "internal"),
    ]
    monkeypatch.undo()
    assert api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert len(xunchen_outbox) == 1


def test_a_500_mapped_from_an_app_error_releases_the_idempotency_key(
    api, monkeypatch, xunchen_outbox
):
    """A ValueError deep in a send is mapped to 500 ``internal`` as an ApiError: it was
    stored and given again for 24 hours, though the docs promise that an unexpected error
    releases the key so that a retry does the work."""
    from django_xunchen.httpapi import views
    from django_xunchen.models import IdempotencyRecord

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    body = {"mobile": "13800138000", "content": "x"}
    monkeypatch.setattr(views, "send_sms", broken)
    assert api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 500
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
    assert api("POST", "messages", body, HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert len(xunchen_outbox) == 1


def test_a_key_released_between_the_clash_and_the_read_is_in_progress(api, monkeypatch):
    """The racing request's row can be gone (its work failed) when the loser reads it:
    that was an uncaught DoesNotExist."""
    from django.db import IntegrityError

    from django_xunchen.models import IdempotencyRecord

    def clash(**kwargs):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr(IdempotencyRecord.objects, "create", clash)
    answer = api(
        "POST", "messages", {"mobile": "13800138000", "content": "x"}, HTTP_IDEMPOTENCY_KEY="k"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "in_progress"


def test_a_key_kept_off_the_codes_account_cannot_check_codes_either(
    api, make_key, three_accounts, xunchen_last_code
):
    """Codes go out on the ``codes`` account: a key restricted to ``default`` may not
    request them, and could still check them (and use up their attempts)."""
    assert api("POST", "codes", {"mobile": "13800138000"}).status_code == 201
    code = xunchen_last_code("13800138000")
    key = make_key(scopes=["codes"], accounts=["default"])
    requested = api("POST", "codes", {"mobile": "13900139000"}, key=key)
    assert requested.status_code == 403
    checked = api("POST", "codes/check", {"mobile": "13800138000", "code": code}, key=key)
    assert checked.status_code == 403, checked.content
    assert checked.json()["error"]["code"] == "account_not_allowed"
    assert api("POST", "codes/check", {"mobile": "13800138000", "code": code}).json()["verified"]


def test_a_key_restricted_to_an_account_learns_nothing_of_the_others(
    api, make_key, three_accounts, xunchen_outbox
):
    """The account was looked up before the key's restriction was applied: the 422 named
    every configured account (or what another one may send)."""
    key = make_key(scopes=["send"], accounts=["default"])
    for account, kind in (("nope", "notification"), ("codes", "notification")):
        body = {"mobile": "13800138000", "content": "x", "account": account, "kind": kind}
        answer = api("POST", "messages", body, key=key)
        assert answer.status_code == 403, answer.content
        assert answer.json()["error"] == {
            "code": "account_not_allowed",
            "message": f"the key may not use account {account!r}",
        }
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "messages", "GET, POST"),
        ("PUT", "messages", "GET, POST"),
        ("POST", "balance", "GET"),
    ],
)
def test_a_405_names_the_methods_allowed(api, method, path, allowed):
    """RFC 9110: a 405 must carry Allow. ``messages`` said "use POST" though GET lists."""
    answer = api(method, path)
    assert answer.status_code == 405
    assert answer["Allow"] == allowed
    assert answer.json()["error"]["message"] == "use " + allowed.replace(", ", " or ")


@pytest.mark.parametrize(
    "bad",
    [
        {"allowed_ips": "10.0.0.0/8\nlocalhost"},
        {"scopes": ["send", "admin"]},
        {"kinds": ["spam"]},
    ],
)
def test_create_key_refuses_what_the_admin_refuses_before_writing(bad, client):
    """create_key saved an allow-list the admin would refuse, and every request with the
    key was then a 500 (the list is parsed on each request); an unknown scope or kind
    was kept silently."""
    from django_xunchen.httpapi.keys import create_key
    from django_xunchen.models import ApiKey

    with pytest.raises(ValueError):
        create_key("crm", **{"scopes": ["read"], **bad})
    assert not ApiKey.objects.exists()


def test_checking_a_code_with_an_unrestricted_key_needs_no_account(api, settings):
    """The account check of codes/check must not make an unrestricted key's check depend
    on the verification route: a route to an account that may not send codes refuses
    requesting them, not checking those already sent."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {"KINDS": ["notification"]}},
    }
    answer = api("POST", "codes/check", {"mobile": "13800138000", "code": "123456"})
    assert answer.status_code == 200 and answer.json()["status"] == "no_code"
