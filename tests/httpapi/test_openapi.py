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
