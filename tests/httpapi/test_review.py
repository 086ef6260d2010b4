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
