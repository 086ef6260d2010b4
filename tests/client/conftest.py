from pathlib import Path

import pytest

from django_xunchen.client import XunchenClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
URL = "http://gateway.test:8030/service/httpService/httpInterface.do"
PASSWORD = "s3cret-pass"
VERY_CODE = "k3y-453245"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def status_xml(code: str) -> bytes:
    declaration = '<?xml version="1.0" encoding="utf-8" ?> '
    return f"{declaration}\n<sms><mt><status>{code}</status></mt></sms>".encode()


@pytest.fixture
def client():
    with XunchenClient("http://gateway.test:8030", "JSM40001", PASSWORD, VERY_CODE) as c:
        yield c


@pytest.fixture
def gbk_client():
    with XunchenClient(
        "http://gateway.test:8030", "JSM40001", PASSWORD, VERY_CODE, encoding="gbk"
    ) as c:
        yield c
