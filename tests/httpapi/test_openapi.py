"""The OpenAPI document matches the views: every path it names is served, every route is
in it, each method it lists is answered and no other, and the answers' statuses and
error codes are the ones it documents."""

import re

import pytest
from django.urls import URLPattern, resolve

from django_xunchen.httpapi import openapi, urls
from django_xunchen.httpapi.errors import CODES

pytestmark = pytest.mark.django_db
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client):
    answer = client.get("/sms/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def concrete(path):
    return "/sms/api" + re.sub(r"\{[^}]+\}", "1", path)


def test_the_document_names_every_route_and_only_routes(document):
    assert document["openapi"].startswith("3.")
    assert document["servers"][0]["url"].endswith("/sms/api")
    documented = {concrete(p) for p in document["paths"]}
    served = set()
    for pattern in urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        served.add("/sms/api/" + re.sub(r"<[^>]+>", "1", str(pattern.pattern)))
    assert documented == served
    for path in documented:
        assert resolve(path).func is not None


def test_each_documented_method_is_answered_and_no_other(document, api):
    for path, operations in document["paths"].items():
        listed = {m for m in operations if m in METHODS}
        for method in METHODS:
            answer = api(method.upper(), concrete(path).removeprefix("/sms/api/v1/"), None)
            if method in listed:
                assert answer.status_code != 405, (method, path)
            else:
                assert answer.status_code == 405, (method, path, answer.status_code)


def test_the_answers_statuses_are_documented(document, api, xunchen_outbox):
    calls = [
        ("post", "/v1/messages", {"mobile": "13800138000", "content": "x"}),
        ("post", "/v1/messages", {"mobile": "138", "content": "x"}),
        ("post", "/v1/messages", "not json"),
        ("get", "/v1/messages", {"limit": "0"}),
        ("get", "/v1/messages", None),
        ("get", "/v1/messages/{id}", None),
        ("post", "/v1/codes", {"mobile": "13800138000"}),
        ("post", "/v1/codes", {"mobile": "13800138000"}),
        ("post", "/v1/codes/check", {"mobile": "13800138000", "code": "1"}),
        ("post", "/v1/codes/check", {"mobile": "13800138000", "code": 1}),
        ("get", "/v1/balance", None),
        ("get", "/v1/health", None),
    ]
    codes = {c for _cls, _s, c in CODES} | openapi.API_CODES
    for method, path, body in calls:
        answer = api(method.upper(), concrete(path).removeprefix("/sms/api/v1/"), body)
        documented = document["paths"][path][method]["responses"]
        assert str(answer.status_code) in documented, (method, path, answer.status_code)
        if answer.status_code >= 400:
            assert answer.json()["error"]["code"] in codes
    unauthenticated = api("GET", "balance", key="")
    assert "401" in document["paths"]["/v1/balance"]["get"]["responses"]
    assert unauthenticated.json()["error"]["code"] in codes


def test_every_error_code_is_in_the_document(document):
    described = document["components"]["schemas"]["Error"]["properties"]["error"]
    text = described["properties"]["code"]["description"]
    for _cls, _status, code in CODES:
        assert code in text
    for code in openapi.API_CODES:
        assert code in text


def test_the_statuses_of_rarer_answers_are_documented(document, api, settings, monkeypatch):
    """The gateway unreachable during a large send's balance check (503), a body too
    large for codes (413), a racing request still being done on codes/check (409), and
    an unexpected error anywhere (500): each was answered but not in the document."""
    from django_xunchen.httpapi import idempotency, keys
    from django_xunchen.models import IdempotencyRecord

    def documented(method, path, answer):
        statuses = document["paths"][path][method]["responses"]
        assert str(answer.status_code) in statuses, (method, path, answer.status_code)

    xunchen = settings.XUNCHEN
    settings.XUNCHEN = {
        **xunchen,
        "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
        "BALANCE_CHECK_ABOVE": 0,
    }
    answer = api("POST", "messages", {"mobile": "13800138000", "content": "x"})
    assert answer.status_code == 503
    documented("post", "/v1/messages", answer)
    settings.XUNCHEN = xunchen

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    for path in ("/v1/codes", "/v1/codes/check"):
        answer = api("POST", path.removeprefix("/v1/"), {"mobile": "13800138000", "code": "1"})
        assert answer.status_code == 413
        documented("post", path, answer)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2621440

    body = {"mobile": "13800138000", "code": "123456"}
    api("POST", "codes/check", body, HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyRecord.objects.update(status=None, response=None)  # as if still being done
    monkeypatch.setattr(idempotency, "WAIT", 0.0)
    answer = api("POST", "codes/check", body, HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 409
    documented("post", "/v1/codes/check", answer)

    def broken(row, now=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(keys, "count_request", broken)
    for path, operations in document["paths"].items():
        for method in operations:
            if path == "/v1/openapi.json":
                continue
            answer = api(method.upper(), concrete(path).removeprefix("/sms/api/v1/"), None)
            assert answer.status_code == 500
            documented(method, path, answer)


def test_the_send_body_is_described_as_the_view_reads_it(document, api, xunchen_outbox):
    send = document["paths"]["/v1/messages"]["post"]["requestBody"]["content"]
    extcode = send["application/json"]["schema"]["properties"]["extcode"]
    answer = api("POST", "messages", {"mobile": "13800138000", "content": "x", "extcode": 12})
    assert answer.status_code == 201, "an integer extension code is taken"
    assert "integer" in extcode["type"]
    listing = document["paths"]["/v1/messages"]["get"]["parameters"]
    limit = next(p for p in listing if p["name"] == "limit")["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
