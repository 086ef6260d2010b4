"""Help for testing a host project: a pytest plugin, a unittest mixin and the backend
contract (:mod:`django_xunchen.testing.contract`).

The pytest plugin is registered automatically (entry point ``pytest11``) and empties the
locmem outbox and queues before every test. It provides fixtures:

``xunchen_outbox``
    the outbox list (``django_xunchen.outbox``), empty at the start of the test.
``xunchen_last_code``
    a function: ``xunchen_last_code("13800138000")`` is the verification code last sent
    to that number (see :func:`last_code`).
``xunchen_gateway``
    a :class:`~django_xunchen.fake_gateway.FakeGateway` on a free port, with the
    ``XUNCHEN`` settings pointed at it (needs pytest-django's ``settings`` fixture).

pytest is not needed to import this package: under Django's own test runner, without
pytest installed, :class:`XunchenTestMixin`, :func:`last_code` and the contract work, and
only the fixtures are missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..backends import locmem
from ..client.validation import normalize_mobile
from ..conf import verification_settings
from ..fake_gateway import FakeGateway

try:
    import pytest
except ImportError:  # Django's test runner, without pytest: no fixtures to offer
    pytest = None  # type: ignore[assignment]


def last_code(mobile: str) -> str | None:
    """The verification code last sent to ``mobile``, read from the locmem outbox (the
    database holds it masked); ``None`` if none was sent."""
    number = normalize_mobile(mobile) or mobile
    length = int(verification_settings()["CODE_LENGTH"])
    digits = re.compile(rf"(?<!\d)\d{{{length}}}(?!\d)")
    for sent in reversed(locmem.outbox):
        if number not in sent.mobiles:
            continue
        texts = [v for _, v in sent.request.params] or [sent.request.content]
        for text in texts:
            found = digits.search(text)
            if found:
                return found.group()
    return None


class XunchenTestMixin:
    """For ``unittest``-style tests: empties the locmem outbox before each test."""

    def setUp(self) -> None:
        locmem.reset()
        super().setUp()  # type: ignore[misc]


if pytest is not None:

    @pytest.fixture(autouse=True)
    def _xunchen_reset_locmem() -> Iterator[None]:
        locmem.reset()
        yield
        locmem.reset()

    @pytest.fixture
    def xunchen_outbox() -> list[locmem.SentSMS]:
        return locmem.outbox

    @pytest.fixture
    def xunchen_last_code():
        return last_code

    @pytest.fixture
    def xunchen_gateway(request: pytest.FixtureRequest) -> Iterator[Any]:
        settings = request.getfixturevalue("settings")
        with FakeGateway() as gateway:
            settings.XUNCHEN = {
                **getattr(settings, "XUNCHEN", {}),
                **gateway.account_settings(),
                "POLL_INTERVAL": 0,
            }
            yield gateway
