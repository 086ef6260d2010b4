"""The real gateway, through :class:`~django_xunchen.client.XunchenClient`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from ..client import XunchenClient
from ..client.http import endpoint_url
from ..client.types import Balance, RawResponse, SendRequest, SendResult
from ..conf import REQUIRED_FOR_GATEWAY, setting_name
from .base import BaseSMSBackend


class SMSBackend(BaseSMSBackend):
    """Sends through the Xunchen HTTP gateway configured in ``XUNCHEN``."""

    tracks_request_start = True

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        missing = [k for k in REQUIRED_FOR_GATEWAY if not self.settings[k]]
        if missing:
            raise ImproperlyConfigured(
                "XUNCHEN is missing " + ", ".join(missing) + " for the Xunchen backend"
            )
        self._client: XunchenClient | None = None

    @classmethod
    def check(cls, settings: Mapping[str, Any], **kwargs: Any) -> Iterator[checks.CheckMessage]:
        """The credentials and ``BASE_URL`` the gateway needs, then the base checks."""
        account = settings["ACCOUNT"]
        missing = [setting_name(account, k) for k in REQUIRED_FOR_GATEWAY if not settings[k]]
        if missing:
            yield checks.Error(
                "Missing for the Xunchen backend: " + ", ".join(missing) + ".",
                hint="Set them in settings.XUNCHEN, e.g. from environment variables.",
                id="django_xunchen.E002",
            )
        if settings["BASE_URL"]:
            try:
                endpoint_url(settings["BASE_URL"])
            except ValueError as exc:
                yield checks.Error(
                    f"{setting_name(account, 'BASE_URL')} is malformed: {exc}",
                    hint="e.g. 'http://121.43.104.172:8030'",
                    id="django_xunchen.E003",
                )
        yield from super().check(settings, **kwargs)

    def __repr__(self) -> str:
        name, url = type(self).__name__, self.settings["BASE_URL"]
        return f"<{name} account={self.account!r} base_url={url!r}>"

    @property
    def queue_id(self) -> str:
        """The gateway login: its endpoint and username, hashed so that the username
        never shows in a lock name or a log."""
        try:
            url = endpoint_url(self.settings["BASE_URL"])
        except ValueError:
            url = str(self.settings["BASE_URL"])
        login = f"{url}\n{self.settings['USERNAME']}".encode()
        return "xunchen:" + hashlib.sha256(login).hexdigest()[:20]

    @property
    def client(self) -> XunchenClient:
        if self._client is None:
            s = self.settings
            try:
                self._client = XunchenClient(
                    s["BASE_URL"],
                    s["USERNAME"],
                    s["PASSWORD"],
                    s["VERY_CODE"],
                    encoding=s["ENCODING"],
                    timeout=s["TIMEOUT"],
                    deadline=s["REQUEST_DEADLINE"],
                    before_request=self.mark_request_started,
                )
            except ValueError as exc:
                raise ImproperlyConfigured(f"XUNCHEN: {exc}") from None
        return self._client

    def open(self) -> None:
        self.client  # noqa: B018 - builds the client, validating the settings

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, request: SendRequest) -> SendResult:
        return self.client.submit(request)

    def get_balance(self) -> Balance:
        return self.client.get_balance()

    def fetch_reports(self) -> RawResponse:
        return self.client.fetch_reports()

    def fetch_inbound(self) -> RawResponse:
        return self.client.fetch_inbound()
