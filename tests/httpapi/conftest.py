import pytest

from django_xunchen.httpapi.keys import create_key
from django_xunchen.models import ApiKey

ALL = list(ApiKey.Scope.values)


@pytest.fixture
def make_key(db):
    """``make_key(scopes=…, kinds=…, …)``: a new key's text."""

    def make(name="orders", scopes=ALL, **kwargs):
        return create_key(name, scopes=scopes, **kwargs)[1]

    return make


@pytest.fixture
def api(client, make_key):
    """``api(method, path, json=None, key=None, **headers)`` against the real views."""
    default = make_key()

    def call(method, path, body=None, key=None, **headers):
        key = default if key is None else key
        if key:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        url = "/sms/api/v1/" + path
        if method == "GET":
            return client.get(url, body or {}, **headers)
        data = body if isinstance(body, (str, bytes)) else __import__("json").dumps(body or {})
        return client.generic(method, url, data, content_type="application/json", **headers)

    return call
