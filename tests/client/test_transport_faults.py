"""Answers that stop part-way or never finish, over real HTTP on loopback."""

import logging

import pytest

from django_xunchen.client import SendRequest, XunchenClient, scan_reports
from django_xunchen.exceptions import (
    InvalidContentError,
    NotSentError,
    OutcomeUnknownError,
    ResponseCutOffError,
)
from django_xunchen.fake_gateway import FakeGateway


@pytest.fixture
def gateway():
    with FakeGateway(seed=3, report_delay=0) as gw:
        yield gw


def test_an_answer_cut_mid_body_is_outcome_unknown_never_not_sent(gateway):
    gateway.inject_fault("cutoff", method="sendUtf8Msg")
    with XunchenClient(gateway.base_url, *gateway.credentials, timeout=(2, 2)) as client:
        with pytest.raises(ResponseCutOffError) as info:
            client.send("13800138000", "x")
    assert isinstance(info.value, OutcomeUnknownError)
    assert not isinstance(info.value, NotSentError)
    assert info.value.received, "the half that arrived is kept"
    assert len(gateway.submissions) == 1, "the gateway did accept it"


def test_a_report_answer_cut_mid_body_keeps_every_byte_and_its_complete_records(gateway):
    with XunchenClient(gateway.base_url, *gateway.credentials, timeout=(2, 2)) as client:
        client.send([f"1380013{i:04d}" for i in range(40)], "x")
        gateway.deliver_now()
        gateway.inject_fault("cutoff", method="queryReport")
        with pytest.raises(ResponseCutOffError) as info:
            client.fetch_reports()
        scan = scan_reports(info.value.received)
        assert not scan.complete
        assert 10 < len(scan.records) < 40
        assert [r.mobile for r in scan.records] == [f"1380013{i:04d}" for i in range(40)][
            : len(scan.records)
        ]
        assert client.query_reports() == [], "the gateway handed them over once"


def test_a_trickling_answer_is_cut_at_the_whole_request_deadline(gateway):
    # A byte every half second against a 3 s deadline: a handful of bytes arrive even on
    # a busy machine, and the whole answer (over 20 bytes) would take more than 10 s.
    gateway.inject_fault("trickle", seconds=0.5, method="sendUtf8Msg")
    with XunchenClient(
        gateway.base_url, *gateway.credentials, timeout=(3, 3), deadline=3
    ) as client:
        with pytest.raises(ResponseCutOffError, match="deadline") as info:
            client.send("13800138000", "x")
        assert 0 < len(info.value.received) < 20, "the watchdog stopped the reading"
        assert client.get_balance().messages > 0, "the next request works"


def test_a_deadline_bounds_the_wait_for_the_headers_too(gateway):
    gateway.inject_fault("latency", seconds=4, method="getAmount")
    with XunchenClient(
        gateway.base_url, *gateway.credentials, timeout=(2, 10), deadline=1
    ) as client:
        with pytest.raises(OutcomeUnknownError, match="deadline"):
            client.get_balance()


def test_the_deadline_is_checked():
    with pytest.raises(ValueError, match="deadline"):
        XunchenClient("http://127.0.0.1:9", "u", "p", "k", deadline=-1)


def test_before_request_is_called_once_per_request_just_before_it_leaves(gateway):
    calls = []
    with XunchenClient(
        gateway.base_url, *gateway.credentials, before_request=lambda: calls.append(1)
    ) as client:
        client.get_balance()
        assert calls == [1]
        client.encoding = "gbk"
        with pytest.raises(InvalidContentError):
            client.submit(SendRequest(mobiles=("13800138000",), content="\U0001f600"))
        assert calls == [1], "a request refused before it left does not count"


def test_a_field_gbk_cannot_carry_is_refused_before_the_request(gateway):
    with XunchenClient(gateway.base_url, *gateway.credentials, encoding="gbk") as client:
        with pytest.raises(InvalidContentError, match="GBK"):
            client.submit(SendRequest(mobiles=("13800138000",), content="短信\U0001f600"))
    assert gateway.requests == []


def test_secrets_never_reach_debug_logs_or_reprs(gateway, caplog):
    username, password, very_code = gateway.credentials
    caplog.set_level(logging.DEBUG)
    with XunchenClient(gateway.base_url, username, password, very_code) as client:
        client.send("13800138000", "x")
        client.get_balance()
        text = repr(client) + repr(vars(client))
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "POST" in caplog.text, "DEBUG logging was captured"
    for secret in (password, very_code):
        assert secret not in logged
        assert secret not in text
