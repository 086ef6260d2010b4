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
