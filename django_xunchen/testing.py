"""Help for testing a host project: a pytest plugin and a unittest mixin.

The pytest plugin is registered automatically (entry point ``pytest11``) and empties the
locmem outbox and queues before every test. It provides fixtures:

``xunchen_outbox``
    the outbox list (``django_xunchen.outbox``), empty at the start of the test.
``xunchen_gateway``
    a :class:`~django_xunchen.fake_gateway.FakeGateway` on a free port, with the
    ``XUNCHEN`` settings pointed at it (needs pytest-django's ``settings`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .backends import locmem


class XunchenTestMixin:
    """For ``unittest``-style tests: empties the locmem outbox before each test."""

    def setUp(self) -> None:
        locmem.reset()
        super().setUp()  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _xunchen_reset_locmem() -> Iterator[None]:
    locmem.reset()
    yield
    locmem.reset()


@pytest.fixture
def xunchen_outbox() -> list[locmem.SentSMS]:
    return locmem.outbox


@pytest.fixture
def xunchen_gateway(request: pytest.FixtureRequest) -> Iterator[Any]:
    from .fake_gateway import FakeGateway

    settings = request.getfixturevalue("settings")
    with FakeGateway() as gateway:
        username, password, very_code = gateway.credentials
        settings.XUNCHEN = {
            **getattr(settings, "XUNCHEN", {}),
            "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
            "BASE_URL": gateway.base_url,
            "USERNAME": username,
            "PASSWORD": password,
            "VERY_CODE": very_code,
            "SENDER_NUMBER": gateway.account.sender,
            "POLL_INTERVAL": 0,
        }
        yield gateway
