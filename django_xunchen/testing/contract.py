"""The backend contract: the promises every SMS backend keeps, as tests that run against
any backend, the bundled ones and a host project's own (as django-anymail tests each
ESP). See :doc:`backends` for how a host runs them.

Mix the classes into :class:`django.test.SimpleTestCase` (which refuses every database
query: a backend writes nothing to the database) and name the backend::

    from django.test import SimpleTestCase
    from django_xunchen.testing.contract import BackendContract

    class LogBackendContractTests(BackendContract, SimpleTestCase):
        backend = "myproject.sms.LogBackend"

The same class runs under pytest (with pytest-django) and under ``manage.py test``.

:class:`BackendContract` holds what every backend promises. A backend that can do more
adds the classes of what it can do, each asking for a hook:

- :class:`ReceivingContract`: it fetches delivery reports and replies
  (:meth:`~ReceivingContract.arrange_reports`, :meth:`~ReceivingContract.arrange_reply`);
- :class:`SendFailureContract`: a test can make its next send fail
  (:meth:`~SendFailureContract.fail_next_send`);
- :class:`QueryFailureContract`: a test can make its next balance, report or reply query
  fail (:meth:`~QueryFailureContract.fail_next_query`).

Each includes :class:`BackendContract`; list them before ``SimpleTestCase``.

The tests send real requests through the backend: point it at a sandbox or a fake
(``backend_settings``), never at a gateway that delivers.
"""

from __future__ import annotations

import datetime as dt
import unittest
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import mock

from django.conf import settings as django_settings
from django.core import checks
from django.test.utils import override_settings

from ..backends import get_backend, load_backend_class
from ..backends.base import BaseSMSBackend
from ..client.parsing import MAX_MSGID_LENGTH, RecordScan
from ..client.types import (
    Balance,
    DeliveryReport,
    InboundSMS,
    RawResponse,
    SendRequest,
    SendResult,
)
from ..client.validation import build_send_request
from ..conf import DEFAULT_ACCOUNT, xunchen_settings
from ..exceptions import (
    BALANCE,
    INBOUND,
    REPORTS,
    NotSentError,
    XunchenError,
    XunchenValidationError,
)

__all__ = [
    "CONTRACT_PASSWORD",
    "CONTRACT_VERY_CODE",
    "BackendContract",
    "QueryFailureContract",
    "ReceivingContract",
    "SendFailureContract",
]

if TYPE_CHECKING:
    _TestCase = unittest.TestCase
else:
    _TestCase = object

#: The password and communication key that ``backend_settings`` sets by default; the
#: tests look for them wherever no credential may show.
CONTRACT_PASSWORD = "contract-password-Q7v"  # noqa: S105 - a test value, not a secret
CONTRACT_VERY_CODE = "contract-key-K9w"


class BackendContract(_TestCase):
    """The promises of every backend. Mix into :class:`~django.test.SimpleTestCase`.

    Set ``backend``; the rest is optional.
    """

    #: The dotted path of the backend under test (required).
    backend: ClassVar[str] = ""
    #: The account whose settings the backend is built with (``None``: ``"default"``).
    account: ClassVar[str | None] = None
    #: ``XUNCHEN`` keys laid over the project's own for each test (``None``: the project's
    #: settings as they are). The default sets a recognisable ``PASSWORD`` and
    #: ``VERY_CODE``, which the tests then look for in reprs and errors. Override
    #: :meth:`contract_settings` for values known only when the test runs.
    backend_settings: ClassVar[Mapping[str, Any] | None] = {
        "PASSWORD": CONTRACT_PASSWORD,
        "VERY_CODE": CONTRACT_VERY_CODE,
    }
    #: The numbers every test sends to.
    mobiles: ClassVar[tuple[str, ...]] = ("13800138000", "13900139000")
    #: The text every test sends.
    content: ClassVar[str] = "django-xunchen backend contract 后端契约测试"

    # ------------------------------------------------------------------ hooks and helpers

    def setUp(self) -> None:
        super().setUp()
        if not self.backend:
            raise AssertionError(
                f"{type(self).__name__}.backend: set the dotted path of the backend to test"
            )
        overrides = self.contract_settings()
        if overrides is not None:
            configured = getattr(django_settings, "XUNCHEN", None) or {}
            changed = override_settings(XUNCHEN={**configured, **overrides})
            changed.enable()
            self.addCleanup(changed.disable)

    def contract_settings(self) -> Mapping[str, Any] | None:
        """The ``XUNCHEN`` keys laid over the project's for each test; by default
        ``backend_settings``."""
        return self.backend_settings

    def make_backend(self, **kwargs: Any) -> BaseSMSBackend:
        """A new, unopened backend, built as the service layer builds one."""
        return get_backend(self.backend, account=self.account, fail_silently=True, **kwargs)

    def open_backend(self) -> BaseSMSBackend:
        """A new backend, opened, and closed when the test ends."""
        backend = self.make_backend()
        backend.open()
        self.addCleanup(backend.close)
        return backend

    def send_request(self) -> SendRequest:
        """The request the tests send: ``content`` to every number of ``mobiles``."""
        encoding = xunchen_settings(self.account)["ENCODING"]
        return build_send_request(self.mobiles, self.content, encoding=encoding)

    def secrets(self) -> list[str]:
        """What must never show in a repr, a ``str()`` or an error: by default the
        account's ``PASSWORD`` and ``VERY_CODE``. Override it for a backend that keeps
        its credentials elsewhere."""
        effective = xunchen_settings(self.account)
        return [str(effective[key]) for key in ("PASSWORD", "VERY_CODE") if effective[key]]

    def assertShowsNoSecret(self, text: str, where: str) -> None:
        """Fail if a credential of :meth:`secrets` is in ``text`` (without printing it)."""
        secrets = self.secrets()
        if not secrets:
            self.fail("no credential to look for: set PASSWORD in backend_settings, or secrets()")
        for secret in secrets:
            if secret in text:
                self.fail(f"a credential shows in {where}")

    def assertAwareOrNone(self, value: object, what: str) -> None:
        """``value`` is ``None`` or an aware datetime, as the record types allow."""
        if value is None:
            return
        if not isinstance(value, dt.datetime):
            self.fail(f"{what} is {type(value).__name__}, not a datetime")
        self.assertIsNotNone(value.utcoffset(), f"{what} must be aware")

    # ------------------------------------------------------------------ building

    def test_it_is_a_subclass_of_base_sms_backend(self) -> None:
        self.assertTrue(issubclass(load_backend_class(self.backend), BaseSMSBackend))

    def test_it_is_built_as_the_service_layer_builds_it(self) -> None:
        backend = get_backend(self.backend, account=self.account, fail_silently=True)
        self.assertEqual(backend.account, self.account or DEFAULT_ACCOUNT)
        self.assertIs(backend.fail_silently, True)

    def test_its_capability_flags_are_booleans(self) -> None:
        cls = load_backend_class(self.backend)
        self.assertIsInstance(cls.sends_externally, bool)
        self.assertIsInstance(cls.tracks_request_start, bool)

    # ------------------------------------------------------------------ sending

    def test_send_returns_a_send_result_with_a_msgid(self) -> None:
        result = self.open_backend().send(self.send_request())
        self.assertIsInstance(result, SendResult)
        self.assertIsInstance(result.msgid, str)
        self.assertTrue(result.msgid.strip(), "the msgid is blank")

    def test_the_msgid_fits_where_it_is_stored(self) -> None:
        result = self.open_backend().send(self.send_request())
        self.assertLessEqual(len(result.msgid), MAX_MSGID_LENGTH)

    def test_the_send_result_names_every_number_of_the_request(self) -> None:
        request = self.send_request()
        result = self.open_backend().send(request)
        self.assertIsInstance(result.mobiles, tuple)
        self.assertEqual(result.mobiles, request.mobiles)

    def test_each_send_gets_a_msgid_of_its_own(self) -> None:
        backend = self.open_backend()
        first = backend.send(self.send_request())
        second = backend.send(self.send_request())
        self.assertNotEqual(first.msgid, second.msgid)

    def test_a_backend_that_tracks_request_start_marks_it_when_sending(self) -> None:
        backend = self.open_backend()
        backend.request_started = False  # as the dispatch does before each request
        backend.send(self.send_request())
        if backend.tracks_request_start:
            self.assertIs(backend.request_started, True)

    def test_get_balance_returns_a_balance(self) -> None:
        balance = self.open_backend().get_balance()
        self.assertIsInstance(balance, Balance)
        self.assertIsInstance(balance.amount, Decimal)
        self.assertIsInstance(balance.messages, int)
        self.assertNotIsInstance(balance.messages, bool)

    # ------------------------------------------------------------- fetching, nothing waiting

    def test_fetch_reports_returns_the_raw_answer_of_a_report_query(self) -> None:
        raw = self.open_backend().fetch_reports()
        self.assertIsInstance(raw, RawResponse)
        self.assertEqual(raw.operation, REPORTS)
        self.assertIsInstance(raw.body, bytes)

    def test_fetch_inbound_returns_the_raw_answer_of_a_reply_query(self) -> None:
        raw = self.open_backend().fetch_inbound()
        self.assertIsInstance(raw, RawResponse)
        self.assertEqual(raw.operation, INBOUND)
        self.assertIsInstance(raw.body, bytes)

    def test_with_nothing_waiting_the_reports_parse_to_an_empty_list(self) -> None:
        backend = self.open_backend()
        self.assertEqual(backend.parse_reports(backend.fetch_reports()), [])

    def test_with_nothing_waiting_the_replies_parse_to_an_empty_list(self) -> None:
        backend = self.open_backend()
        self.assertEqual(backend.parse_inbound(backend.fetch_inbound()), [])

    def test_with_nothing_waiting_the_report_scan_is_empty_and_complete(self) -> None:
        backend = self.open_backend()
        scan = backend.scan_reports(backend.fetch_reports())
        self.assertIsInstance(scan, RecordScan)
        self.assertEqual((scan.records, scan.complete), ([], True))

    def test_with_nothing_waiting_the_reply_scan_is_empty_and_complete(self) -> None:
        backend = self.open_backend()
        scan = backend.scan_inbound(backend.fetch_inbound())
        self.assertIsInstance(scan, RecordScan)
        self.assertEqual((scan.records, scan.complete), ([], True))

    # ------------------------------------------------------------------ opening and closing

    def test_the_context_manager_opens_then_closes(self) -> None:
        backend = self.make_backend()
        with (
            mock.patch.object(backend, "open", wraps=backend.open) as opened,
            mock.patch.object(backend, "close", wraps=backend.close) as closed,
        ):
            with backend as entered:
                self.assertIs(entered, backend)
                opened.assert_called_once_with()
                closed.assert_not_called()
            closed.assert_called_once_with()

    def test_the_context_manager_closes_after_an_error_and_lets_it_through(self) -> None:
        backend = self.make_backend()
        with mock.patch.object(backend, "close", wraps=backend.close) as closed:
            with self.assertRaises(LookupError), backend:
                raise LookupError("raised inside the with block")
            closed.assert_called_once_with()

    # ------------------------------------------------------------------ system checks

    def test_check_yields_only_check_messages(self) -> None:
        cls = load_backend_class(self.backend)
        for message in cls.check(xunchen_settings(self.account)):
            self.assertIsInstance(message, checks.CheckMessage)

    def test_check_finds_no_error_in_the_settings_the_contract_runs_with(self) -> None:
        cls = load_backend_class(self.backend)
        serious = [m for m in cls.check(xunchen_settings(self.account)) if m.is_serious()]
        self.assertEqual(serious, [])

    def test_check_keeps_the_checks_of_the_base_class(self) -> None:
        cls = load_backend_class(self.backend)
        broken = {**xunchen_settings(self.account), "ENCODING": "not-an-encoding"}
        ids = [m.id for m in cls.check(broken)]
        self.assertIn("django_xunchen.E004", ids)

    # ------------------------------------------------------------------ identity and secrets

    def test_queue_id_is_one_string_for_every_backend_of_the_account(self) -> None:
        first, second = self.make_backend(), self.make_backend()
        self.assertIsInstance(first.queue_id, str)
        self.assertTrue(first.queue_id)
        self.assertEqual(first.queue_id, second.queue_id)

    def test_no_credential_shows_in_its_repr_str_or_queue_id(self) -> None:
        backend = self.open_backend()
        self.assertShowsNoSecret(repr(backend), "repr(backend)")
        self.assertShowsNoSecret(str(backend), "str(backend)")
        self.assertShowsNoSecret(backend.queue_id, "backend.queue_id")


class ReceivingContract(BackendContract):
    """The promises of a backend that fetches delivery reports and replies."""

    def arrange_reports(self, request: SendRequest, result: SendResult) -> None:
        """Make a successful delivery report for every number of this send wait for the
        next :meth:`~BaseSMSBackend.fetch_reports`."""
        raise NotImplementedError(f"{type(self).__name__}.arrange_reports")

    def arrange_reply(self, mobile: str, content: str) -> None:
        """Make a reply from ``mobile`` wait for the next
        :meth:`~BaseSMSBackend.fetch_inbound`."""
        raise NotImplementedError(f"{type(self).__name__}.arrange_reply")

    def _fetch_reports_of_a_send(self) -> tuple[BaseSMSBackend, RawResponse, SendResult]:
        backend = self.open_backend()
        request = self.send_request()
        result = backend.send(request)
        self.arrange_reports(request, result)
        return backend, backend.fetch_reports(), result

    def _fetch_a_reply(self) -> tuple[BaseSMSBackend, RawResponse]:
        backend = self.open_backend()
        self.arrange_reply(self.mobiles[0], self.content)
        return backend, backend.fetch_inbound()

    def test_the_reports_of_a_send_parse_to_one_delivery_report_per_number(self) -> None:
        backend, raw, result = self._fetch_reports_of_a_send()
        reports = backend.parse_reports(raw)
        self.assertIsInstance(reports, list)
        for report in reports:
            self.assertIsInstance(report, DeliveryReport)
        got = sorted((r.msgid, r.mobile) for r in reports)
        self.assertEqual(got, sorted((result.msgid, m) for m in self.mobiles))

    def test_a_delivered_report_has_the_fields_of_its_type(self) -> None:
        backend, raw, _result = self._fetch_reports_of_a_send()
        for report in backend.parse_reports(raw):
            self.assertIsInstance(report.status, str)
            self.assertTrue(report.status, "the status is blank")
            self.assertIs(report.delivered, True)
            self.assertIsInstance(report.extno, str)
            self.assertAwareOrNone(report.reported_at, "reported_at")

    def test_a_report_scan_finds_what_parse_finds(self) -> None:
        backend, raw, _result = self._fetch_reports_of_a_send()
        scan = backend.scan_reports(raw)
        self.assertIsInstance(scan, RecordScan)
        self.assertTrue(scan.complete)
        self.assertEqual(scan.records, backend.parse_reports(raw))

    def test_a_reply_parses_to_one_inbound_sms(self) -> None:
        backend, raw = self._fetch_a_reply()
        (reply,) = backend.parse_inbound(raw)
        self.assertIsInstance(reply, InboundSMS)
        self.assertEqual((reply.mobile, reply.content), (self.mobiles[0], self.content))
        self.assertIsInstance(reply.recvcode, str)
        self.assertAwareOrNone(reply.received_at, "received_at")

    def test_a_reply_scan_finds_what_parse_finds(self) -> None:
        backend, raw = self._fetch_a_reply()
        scan = backend.scan_inbound(raw)
        self.assertIsInstance(scan, RecordScan)
        self.assertTrue(scan.complete)
        self.assertEqual(scan.records, backend.parse_inbound(raw))


class SendFailureContract(BackendContract):
    """The promises of a backend when a send fails."""

    def fail_next_send(self) -> None:
        """Make the next send of the backend fail."""
        raise NotImplementedError(f"{type(self).__name__}.fail_next_send")

    def _failed_send(self, backend: BaseSMSBackend) -> XunchenError:
        self.fail_next_send()
        backend.request_started = False
        with self.assertRaises(XunchenError) as caught:
            backend.send(self.send_request())
        return caught.exception

    def test_a_failed_send_raises_an_error_of_django_xunchen_exceptions(self) -> None:
        self.assertIsInstance(self._failed_send(self.open_backend()), XunchenError)

    def test_a_failed_send_shows_no_credential(self) -> None:
        error = self._failed_send(self.open_backend())
        self.assertShowsNoSecret(str(error), "str(error)")
        self.assertShowsNoSecret(repr(error), "repr(error)")

    def test_a_send_refused_after_it_left_was_marked_started(self) -> None:
        backend = self.open_backend()
        error = self._failed_send(backend)
        before = isinstance(error, NotSentError | XunchenValidationError)
        if backend.tracks_request_start and not before:
            self.assertIs(backend.request_started, True)

    def test_the_backend_sends_again_after_a_failed_send(self) -> None:
        backend = self.open_backend()
        self._failed_send(backend)
        self.assertIsInstance(backend.send(self.send_request()), SendResult)


class QueryFailureContract(BackendContract):
    """The promises of a backend when a balance, report or reply query fails."""

    def fail_next_query(self, operation: str) -> None:
        """Make the next query ``operation`` of the backend fail: ``"getAmount"``
        (:meth:`~BaseSMSBackend.get_balance`), ``"queryReport"``
        (:meth:`~BaseSMSBackend.fetch_reports`) or ``"queryMo"``
        (:meth:`~BaseSMSBackend.fetch_inbound`)."""
        raise NotImplementedError(f"{type(self).__name__}.fail_next_query")

    def _failed_query(self, operation: str) -> XunchenError:
        backend = self.open_backend()
        call = {
            BALANCE: backend.get_balance,
            REPORTS: backend.fetch_reports,
            INBOUND: backend.fetch_inbound,
        }[operation]
        self.fail_next_query(operation)
        with self.assertRaises(XunchenError) as caught:
            call()
        self.assertShowsNoSecret(str(caught.exception), f"the {operation} error")
        self.assertShowsNoSecret(repr(caught.exception), f"the {operation} error's repr")
        return caught.exception

    def test_a_failed_balance_query_raises_an_error_of_django_xunchen_exceptions(self) -> None:
        self._failed_query(BALANCE)

    def test_a_failed_report_fetch_raises_an_error_of_django_xunchen_exceptions(self) -> None:
        self._failed_query(REPORTS)

    def test_a_failed_reply_fetch_raises_an_error_of_django_xunchen_exceptions(self) -> None:
        self._failed_query(INBOUND)
