"""The base class every SMS backend derives from."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from typing import Any

from django.core import checks

from ..client import parsing
from ..client.types import Balance, DeliveryReport, InboundSMS, RawResponse, SendRequest, SendResult
from ..client.validation import normalize_encoding
from ..conf import setting_name, xunchen_settings


class BaseSMSBackend(abc.ABC):
    """Turns validated requests into gateway calls; writes nothing to the database.

    The service layer (:func:`django_xunchen.send_sms`, :func:`django_xunchen.poll`) owns
    every database write, so every backend gets the claim, the journal and the signals.

    A subclass implements :meth:`send` and :meth:`get_balance`; one that can receive
    reports and replies implements :meth:`fetch_reports` and :meth:`fetch_inbound`
    (returning the raw body, which is journaled before :meth:`parse_reports` or
    :meth:`parse_inbound` reads it). Errors are those of :mod:`django_xunchen.exceptions`:
    raise :class:`~django_xunchen.exceptions.NotSentError` only when the request certainly
    did not reach the provider.

    ``tracks_request_start``: ``True`` for a backend that calls :meth:`mark_request_started`
    just before its request leaves. Then an unexpected exception from :meth:`send` before
    that call leaves the rows ``queued`` (nothing went out); after it, or from a backend that
    does not track, the rows become ``unknown``, since the SMS may have gone out.

    ``account``: the name of the account whose settings it holds (``"default"`` unless
    given).

    ``sends_externally``: ``True`` for a backend whose sends reach real handsets. For those,
    :func:`~django_xunchen.send_sms` called inside a transaction waits for the commit
    before sending, so that a rolled-back row never becomes a real SMS.

    :meth:`check` gives the system checks of an account's settings for this backend; a
    subclass adds its own by overriding it.
    """

    sends_externally: bool = True
    tracks_request_start: bool = False

    def __init__(
        self, fail_silently: bool = False, account: str | None = None, **kwargs: Any
    ) -> None:
        self.fail_silently = fail_silently
        self.settings = xunchen_settings(account, **kwargs)
        self.account: str = self.settings["ACCOUNT"]
        self.request_started = False

    @classmethod
    def check(cls, settings: Mapping[str, Any], **kwargs: Any) -> Iterator[checks.CheckMessage]:
        """The system checks (``manage.py check``) of one account's ``settings``, as
        :func:`~django_xunchen.conf.xunchen_settings` gives them, for an account configured
        with this class; ``settings["ACCOUNT"]`` is the account's name. Called on the class:
        settings that would make the constructor fail are reported here instead.

        The base class checks what every backend reads (``ENCODING``). A subclass adds
        its own checks by overriding this and yielding from
        ``super().check(settings, **kwargs)``; it names a setting in a message with
        :func:`~django_xunchen.conf.setting_name`, and gives each message an id of its
        own (not ``django_xunchen.*``)."""
        try:
            normalize_encoding(settings["ENCODING"])
        except ValueError as exc:
            yield checks.Error(
                f"{setting_name(settings['ACCOUNT'], 'ENCODING')}: {exc}",
                id="django_xunchen.E004",
            )

    @property
    def queue_id(self) -> str:
        """What identifies the account's report and reply queue at the provider: two
        settings names with the same ``queue_id`` share one poll. The default is the
        account name; a backend that talks to a real login returns that login."""
        return f"{type(self).__module__}:{self.account}"

    def mark_request_started(self) -> None:
        """Say that the current request is about to leave (see ``tracks_request_start``)."""
        self.request_started = True

    def open(self) -> None:  # noqa: B027 - optional hook
        """Open connections; called by the context manager."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Close connections; called by the context manager."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def encoding(self) -> str:
        return self.settings["ENCODING"]

    @abc.abstractmethod
    def send(self, request: SendRequest) -> SendResult:
        """Send one request of 1–100 numbers; return the provider's msgid."""

    @abc.abstractmethod
    def get_balance(self) -> Balance:
        """The account's balance."""

    def fetch_reports(self) -> RawResponse:
        """The raw body of one report query. The default has nothing to fetch."""
        return RawResponse("queryReport", _NOTHING)

    def fetch_inbound(self) -> RawResponse:
        """The raw body of one reply query. The default has nothing to fetch."""
        return RawResponse("queryMo", _NOTHING)

    def parse_reports(self, raw: RawResponse) -> list[DeliveryReport]:
        return parsing.parse_reports(raw.body)

    def parse_inbound(self, raw: RawResponse) -> list[InboundSMS]:
        return parsing.parse_inbound(raw.body)

    def scan_reports(self, raw: RawResponse) -> parsing.RecordScan[DeliveryReport]:
        """The reports of a body, record by record, so that a cut-off body still gives
        the complete ones. A subclass that overrides only :meth:`parse_reports` gets it
        wrapped, all or nothing."""
        if type(self).parse_reports is not BaseSMSBackend.parse_reports:
            return parsing.RecordScan(self.parse_reports(raw))
        return parsing.scan_reports(raw.body)

    def scan_inbound(self, raw: RawResponse) -> parsing.RecordScan[InboundSMS]:
        """The replies of a body, record by record; see :meth:`scan_reports`."""
        if type(self).parse_inbound is not BaseSMSBackend.parse_inbound:
            return parsing.RecordScan(self.parse_inbound(raw))
        return parsing.scan_inbound(raw.body)


_NOTHING = b"<sms><mt><status>104</status></mt></sms>"
