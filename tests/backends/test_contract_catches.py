"""The contract fails a backend that breaks one of its promises: each backend here is the
docs' host backend with one promise broken, and the contract test named for that promise
must fail (run through unittest, as ``manage.py test`` runs it), while the same test
passes for the unbroken backend."""

import unittest

import pytest
from django.core import checks
from django.db import connection
from django.test import SimpleTestCase

from django_xunchen.client.types import Balance, SendResult
from django_xunchen.testing.contract import BackendContract

from .host_backend import LogBackend


class BlankMsgid(LogBackend):
    def send(self, request):
        super().send(request)
        return SendResult(msgid="", mobiles=request.mobiles)


class OverlongMsgid(LogBackend):
    def send(self, request):
        return SendResult(msgid="m" * 65, mobiles=request.mobiles)


class SameMsgidEveryTime(LogBackend):
    def send(self, request):
        super().send(request)
        return SendResult(msgid="always-the-same", mobiles=request.mobiles)


class FirstNumberOnly(LogBackend):
    def send(self, request):
        result = super().send(request)
        return SendResult(msgid=result.msgid, mobiles=request.mobiles[:1])


class NeverMarksTheStart(LogBackend):
    def mark_request_started(self):
        pass


class BalanceAsADict(LogBackend):
    def get_balance(self):
        return {"amount": 0, "messages": 0}


class BalanceInFloats(LogBackend):
    def get_balance(self):
        return Balance(amount=0.0, messages=0)


class ParsesNothingToNone(LogBackend):
    def parse_reports(self, raw):
        return None


class SwallowsErrors(LogBackend):
    def __exit__(self, *exc_info):
        self.close()
        return True


class DropsTheBaseChecks(LogBackend):
    @classmethod
    def check(cls, settings, **kwargs):
        yield checks.Error("always wrong", id="myproject.E001")


class ShowsItsPassword(LogBackend):
    def __repr__(self):
        return f"<ShowsItsPassword {self.settings['PASSWORD']}>"


class ReadsTheDatabase(LogBackend):
    def send(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return super().send(request)


CASES = [
    (BlankMsgid, "test_send_returns_a_send_result_with_a_msgid"),
    (OverlongMsgid, "test_the_msgid_fits_where_it_is_stored"),
    (SameMsgidEveryTime, "test_each_send_gets_a_msgid_of_its_own"),
    (FirstNumberOnly, "test_the_send_result_names_every_number_of_the_request"),
    (NeverMarksTheStart, "test_a_backend_that_tracks_request_start_marks_it_when_sending"),
    (BalanceAsADict, "test_get_balance_returns_a_balance"),
    (BalanceInFloats, "test_get_balance_returns_a_balance"),
    (ParsesNothingToNone, "test_with_nothing_waiting_the_reports_parse_to_an_empty_list"),
    (SwallowsErrors, "test_the_context_manager_closes_after_an_error_and_lets_it_through"),
    (DropsTheBaseChecks, "test_check_keeps_the_checks_of_the_base_class"),
    (DropsTheBaseChecks, "test_check_finds_no_error_in_the_settings_the_contract_runs_with"),
    (ShowsItsPassword, "test_no_credential_shows_in_its_repr_str_or_queue_id"),
    (ReadsTheDatabase, "test_send_returns_a_send_result_with_a_msgid"),
]


def run_contract_test(backend_class, name):
    case = type(
        "ContractTests",
        (BackendContract, SimpleTestCase),
        {"backend": f"{__name__}.{backend_class.__name__}"},
    )
    result = unittest.TestResult()
    unittest.TestSuite([case(name)]).run(result)
    return result


@pytest.mark.parametrize(("broken", "name"), CASES, ids=[f"{c.__name__}-{n[5:]}" for c, n in CASES])
def test_the_contract_test_of_a_broken_promise_fails(broken, name):
    assert run_contract_test(LogBackend, name).wasSuccessful()
    result = run_contract_test(broken, name)
    assert result.testsRun == 1
    assert len(result.failures) + len(result.errors) == 1
