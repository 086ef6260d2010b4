"""The backend contract (django_xunchen.testing.contract) against every bundled backend,
and against the host backend that docs/backends.rst shows (tests/backends/host_backend.py).
"""

import io
import re
import unittest
from pathlib import Path

from django.test import SimpleTestCase

from django_xunchen.backends import locmem
from django_xunchen.exceptions import InsufficientBalanceError
from django_xunchen.fake_gateway import Account, FakeGateway
from django_xunchen.testing import XunchenTestMixin
from django_xunchen.testing.contract import (
    CONTRACT_PASSWORD,
    CONTRACT_VERY_CODE,
    BackendContract,
    QueryFailureContract,
    ReceivingContract,
    SendFailureContract,
)

ROOT = Path(__file__).resolve().parents[2]
HOST_BACKEND = Path(__file__).with_name("host_backend.py")


class XunchenBackendContractTests(
    ReceivingContract, SendFailureContract, QueryFailureContract, SimpleTestCase
):
    """The real gateway's backend, over HTTP to a fake gateway of its own for each test."""

    backend = "django_xunchen.backends.xunchen.SMSBackend"

    def setUp(self):
        account = Account(password=CONTRACT_PASSWORD, very_code=CONTRACT_VERY_CODE)
        self.gateway = FakeGateway(account=account).start()
        self.addCleanup(self.gateway.stop)
        super().setUp()

    def contract_settings(self):
        return self.gateway.account_settings()

    def arrange_reports(self, request, result):
        self.gateway.deliver_now()

    def arrange_reply(self, mobile, content):
        self.gateway.inject_reply(mobile, content)

    def fail_next_send(self):
        self.gateway.inject_fault("http500")

    def fail_next_query(self, operation):
        self.gateway.inject_fault("http500", method=operation)


class LocmemBackendContractTests(
    XunchenTestMixin, ReceivingContract, SendFailureContract, SimpleTestCase
):
    backend = "django_xunchen.backends.locmem.SMSBackend"

    def arrange_reports(self, request, result):
        locmem.deliver_all()

    def arrange_reply(self, mobile, content):
        locmem.queue_reply(mobile, content)

    def fail_next_send(self):
        locmem.fail_next(InsufficientBalanceError("108", "send"))


class ConsoleBackendContractTests(BackendContract, SimpleTestCase):
    backend = "django_xunchen.backends.console.SMSBackend"

    def make_backend(self, **kwargs):
        return super().make_backend(stream=io.StringIO(), **kwargs)


class DummyBackendContractTests(BackendContract, SimpleTestCase):
    backend = "django_xunchen.backends.dummy.SMSBackend"


class HostBackendContractTests(BackendContract, SimpleTestCase):
    """The minimal host backend of docs/backends.rst, as a host project tests it."""

    backend = "tests.backends.host_backend.LogBackend"


def contract_classes():
    return [
        value
        for value in globals().values()
        if isinstance(value, type)
        and issubclass(value, BackendContract)
        and issubclass(value, SimpleTestCase)
    ]


def test_every_bundled_backend_runs_the_contract():
    folder = ROOT / "django_xunchen" / "backends"
    bundled = {
        f"django_xunchen.backends.{path.stem}.SMSBackend"
        for path in folder.glob("*.py")
        if path.stem not in ("__init__", "base")
    }
    tested = {cls.backend for cls in contract_classes()}
    assert bundled == tested - {HostBackendContractTests.backend}


def test_each_backend_runs_the_contracts_of_what_it_can_do():
    kinds = {
        cls.backend.split(".")[-2]: {
            base.__name__ for base in cls.__mro__ if base.__name__.endswith("Contract")
        }
        for cls in contract_classes()
    }
    everything = {
        "BackendContract",
        "ReceivingContract",
        "SendFailureContract",
        "QueryFailureContract",
    }
    assert kinds["xunchen"] == everything
    assert kinds["locmem"] == everything - {"QueryFailureContract"}
    assert kinds["console"] == kinds["dummy"] == kinds["host_backend"] == {"BackendContract"}


def docs_code_block(rst: str, caption: str) -> str:
    """The text of the ``code-block`` with ``:caption: caption`` in ``rst``."""
    lines = rst.splitlines()
    start = lines.index(f"   :caption: {caption}")
    assert lines[start - 1].startswith(".. code-block:: python")
    body = []
    for line in lines[start + 1 :]:
        if line.strip() and not line.startswith("   "):
            break
        body.append(line[3:])
    return "\n".join(body).strip("\n") + "\n"


def test_the_host_backend_is_the_one_the_docs_show():
    rst = (ROOT / "docs" / "backends.rst").read_text(encoding="utf-8")
    assert docs_code_block(rst, "myproject/sms.py") == HOST_BACKEND.read_text(encoding="utf-8")


def test_the_docs_name_the_host_backend_the_contract_tests():
    rst = (ROOT / "docs" / "backends.rst").read_text(encoding="utf-8")
    block = docs_code_block(rst, "myproject/tests/test_sms_backend.py")
    assert re.search(r'backend = "myproject\.sms\.LogBackend"', block)
    assert "class LogBackendContractTests(BackendContract, SimpleTestCase):" in block


def test_the_contract_runs_under_unittest_as_under_manage_py_test():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(HostBackendContractTests)
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    assert result.wasSuccessful(), result.failures + result.errors
    names = [n for n in dir(BackendContract) if n.startswith("test_")]
    assert result.testsRun == len(names) > 20
