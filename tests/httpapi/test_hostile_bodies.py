"""No body a caller can send makes the API answer 500: any JSON value in any field."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "mobile",
    "mobiles",
    "content",
    "template",
    "params",
    "extcode",
    "kind",
    "account",
    "tags",
    "metadata",
    "send_at",
    "expires_at",
    "background",
    "code",
    "purpose",
    "ip",
]
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6) | values


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, path=st.sampled_from(["messages", "codes", "codes/check"]))
def test_any_json_body_gets_an_answer_below_500(api, xunchen_outbox, body, path):
    answer = api("POST", path, json.dumps(body))
    assert answer.status_code < 500, (body, answer.content)
    if answer.status_code >= 400:
        assert set(answer.json()) == {"error"}
