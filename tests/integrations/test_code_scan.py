"""The scan behind ``code_nowhere`` finds a code wherever a table could hold it, sessions
included (stored signed, base64-encoded and compressed): a gate that could not see it
there would pass by accident."""

import pytest
from django.contrib.sessions.backends.db import SessionStore

from django_xunchen.models import Message

from ..conftest import tables_holding

pytestmark = pytest.mark.django_db


def test_the_scan_finds_a_code_in_a_session_a_text_and_a_json_column():
    assert tables_holding("482913") == []
    session = SessionStore()
    session["state"] = {"code": "482913", "padding": "x" * 500}  # long enough to compress
    session.save()
    assert tables_holding("482913") == ["django_session.session_data"]
    short = SessionStore()
    short["code"] = "591827"
    short.save()
    assert tables_holding("591827") == ["django_session.session_data"]
    Message.objects.create(mobile="13800138000", content="验证码 730915", metadata={"c": "664201"})
    assert tables_holding("730915") == ["django_xunchen_message.content"]
    assert tables_holding("664201") == ["django_xunchen_message.metadata"]
