"""Hostile bodies to the public code views: each is answered cleanly (400, or 413 when
too large; never 500) and writes nothing: no code, no throttle event, no message, no
attempt spent on the live code. Django's test client raises a view's exception, so a
500 fails the test outright."""

import json

import pytest
from django.urls import reverse

from django_xunchen.models import Message, ThrottleBucket, ThrottleEvent, VerificationCode
from django_xunchen.verification import codes
from django_xunchen.verification.codes import request_code

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
OTHER = "13900139000"
CODE = "012345"  # leading zero: as an int it is 12345
REQUEST = reverse("django_xunchen:request_code")
CHECK = reverse("django_xunchen:check_code")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def live(limits, monkeypatch, xunchen_outbox):
    """A live code (CODE) for NUMBER, and what the database held then."""
    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: CODE)
    assert request_code(NUMBER).sent
    return written()


def written():
    return (
        list(VerificationCode.objects.values_list("pk", "state", "attempts", "sends")),
        list(ThrottleEvent.objects.values_list("pk", flat=True)),
        list(Message.objects.values_list("pk", flat=True)),
        sorted(ThrottleBucket.objects.values_list("key", flat=True)),
    )


def post(client, url, body, content_type=JSON, **extra):
    data = body if isinstance(body, bytes) else body.encode()
    return client.generic("POST", url, data, content_type=content_type, **extra)


def refused(response, status=400):
    assert response.status_code == status, response.content[:200]
    assert response.json()["status"] == "invalid"
    return response.json()["error"]


# One (body, content type, status) per hostile input; each goes to both views.
HOSTILE = {
    "deep_json_arrays": ("[" * 4000, JSON, 400),
    "deep_json_arrays_100000": ("[" * 100_000, JSON, 413),
    "deep_json_objects": ('{"a":' * 800, JSON, 400),
    "nested_value": (json.dumps({"mobile": NUMBER, "code": [CODE]}), JSON, 400),
    "nested_object_value": (json.dumps({"mobile": {"n": NUMBER}, "code": CODE}), JSON, 400),
    "huge_body": (json.dumps({"mobile": NUMBER, "code": CODE, "x": "1" * 100_000}), JSON, 413),
    "top_level_array": (json.dumps([NUMBER, CODE]), JSON, 400),
    "top_level_number": ("13800138000", JSON, 400),
    "top_level_string": (json.dumps(NUMBER), JSON, 400),
    "top_level_null": ("null", JSON, 400),
    "null_value": ('{"mobile": null, "code": null}', JSON, 400),
    "nan_value": ('{"mobile": "13800138000", "code": NaN}', JSON, 400),
    "int_code": (f'{{"mobile": "{NUMBER}", "code": {int(CODE)}}}', JSON, 400),
    "int_code_with_leading_zeros": (f'{{"mobile": "{NUMBER}", "code": {CODE}}}', JSON, 400),
    "bool_code": (f'{{"mobile": "{NUMBER}", "code": true}}', JSON, 400),
    "huge_int_code": (f'{{"mobile": "{NUMBER}", "code": {"9" * 3000}}}', JSON, 400),
    "nul_in_json_code": (json.dumps({"mobile": NUMBER, "code": "0123\x0045"}), JSON, 400),
    "nul_in_form_code": (f"mobile={NUMBER}&code=0123%0045", FORM, 400),
    "lone_surrogate_code": (f'{{"mobile": "{NUMBER}", "code": "\\ud800"}}', JSON, 400),
    "invalid_utf8_json": (b'{"mobile": "' + NUMBER.encode() + b'", "code": "\xff\xfe"}', JSON, 400),
    "invalid_utf8_form": (f"mobile={NUMBER}&code=%ff%fe%fd".encode(), FORM, 400),
    "repeated_json_keys": (f'{{"mobile": "{OTHER}", "mobile": "{NUMBER}"}}', JSON, 400),
    "repeated_form_keys": (f"mobile={OTHER}&mobile={NUMBER}&code={CODE}", FORM, 400),
    "enormous_mobile_json": (json.dumps({"mobile": "1" * 4000, "code": CODE}), JSON, 400),
    "enormous_mobile_form": (f"mobile={'1' * 4000}&code={CODE}", FORM, 400),
    "too_many_form_fields": ("&".join(["a"] * 2000), FORM, 400),
    "plain_text": (f"mobile={NUMBER}", "text/plain", 400),
    "broken_multipart": ("--x\r\ngarbage", "multipart/form-data; boundary=", 400),
}


@pytest.mark.parametrize("url", [REQUEST, CHECK], ids=["request", "check"])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_body_is_refused_and_writes_nothing(client, live, url, case):
    body, content_type, status = HOSTILE[case]
    refused(post(client, url, body, content_type), status)
    assert written() == live


def test_deep_json_is_refused_before_the_parser_sees_it(client, live, monkeypatch):
    """The nesting is counted first: the parser never runs on a nested body."""
    import types

    import django_xunchen.views as views

    calls = []
    parser = types.SimpleNamespace(loads=lambda *a, **k: calls.append(a))
    monkeypatch.setattr(views, "json", parser)
    refused(post(client, CHECK, "[" * 4000))
    refused(post(client, CHECK, '{"mobile": "1", "code": {"a": "b"}}'))
    refused(post(client, CHECK, '{"a": "[{\\"}", "b": [1]}'))
    assert calls == []
    assert written() == live


def test_brackets_inside_strings_are_not_nesting(client, live):
    body = json.dumps({"mobile": NUMBER, "code": CODE, "note": '[{"\\'})
    assert post(client, CHECK, body).json()["status"] == "verified"


def test_an_int_code_spends_no_attempt_and_a_string_one_still_works(client, live):
    error = refused(post(client, CHECK, f'{{"mobile": "{NUMBER}", "code": {int(CODE)}}}'))
    assert "string" in error
    assert written() == live
    right = post(client, CHECK, json.dumps({"mobile": NUMBER, "code": CODE}))
    assert right.json() == {"status": "verified", "attempts_left": 0}


def test_a_form_with_a_file_is_refused(client, live):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("code.txt", CODE.encode())
    refused(client.post(CHECK, {"mobile": NUMBER, "code": CODE, "file": upload}))
    assert written() == live


def test_a_content_length_that_is_not_a_number_or_too_large_is_refused_unread(client, live):
    body = json.dumps({"mobile": NUMBER, "code": CODE})
    refused(post(client, CHECK, body, CONTENT_LENGTH="many"))
    refused(post(client, CHECK, body, CONTENT_LENGTH="-1"))
    refused(post(client, CHECK, body, CONTENT_LENGTH="5000"), 413)
    assert written() == live


def test_a_body_of_4096_bytes_is_taken_and_one_more_is_not(client, live):
    body = json.dumps({"mobile": NUMBER, "code": CODE})
    body = body[:-1] + " " * (4096 - len(body)) + "}"  # JSON takes the spaces
    assert len(body) == 4096
    assert post(client, CHECK, body).json()["status"] == "verified"
    refused(post(client, CHECK, body + " "), 413)


def test_an_empty_json_body_is_a_missing_number(client, live):
    assert "mobile" in refused(post(client, REQUEST, b"", CONTENT_TYPE=JSON))
    assert "form or" in refused(post(client, REQUEST, b""))  # no content type at all
    assert written() == live


def test_the_views_still_take_an_ordinary_form_and_json(client, limits, xunchen_outbox):
    assert client.post(REQUEST, {"mobile": NUMBER}).status_code == 200
    assert post(client, REQUEST, f"mobile={OTHER}&purpose=login", FORM).status_code == 200
    assert post(client, REQUEST, json.dumps({"mobile": "13700137000"})).status_code == 200
    charset = "application/json; charset=utf-8"
    assert post(client, REQUEST, json.dumps({"mobile": "13600136000"}), charset).status_code == 200
    assert len(xunchen_outbox) == 4


def test_other_fields_such_as_the_csrf_token_are_ignored(client, limits, xunchen_outbox):
    token = "x" * 64
    answer = client.post(REQUEST, {"mobile": NUMBER, "csrfmiddlewaretoken": token})
    assert answer.json()["status"] == "sent"
    assert len(xunchen_outbox) == 1
