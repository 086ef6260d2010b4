"""Edges of the client that the protocol samples do not reach."""

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from django_xunchen.client import parse_balance, parse_inbound, scan_inbound
from django_xunchen.client.http import _never_connected
from django_xunchen.exceptions import MalformedResponseError, NotSentError


def _connection_error(reason):
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason=reason))


def test_never_connected_reads_the_whole_cause_chain():
    refused = NewConnectionError(None, "refused")
    assert _never_connected(_connection_error(refused))
    wrapped = ProtocolError("aborted")
    wrapped.__cause__ = refused
    assert _never_connected(_connection_error(wrapped))
    assert not _never_connected(_connection_error(ProtocolError("reset by peer")))


def test_never_connected_ends_on_a_cyclic_chain():
    first, second = ProtocolError("a"), ProtocolError("b")
    first.__context__, second.__context__ = second, first
    assert _never_connected(_connection_error(first)) is False
    refused = NewConnectionError(None, "refused")
    second.__cause__ = refused
    assert _never_connected(_connection_error(first)) is True


@pytest.mark.parametrize(
    ("body", "content"),
    [
        (b"<content/>", ""),
        (b"", ""),
        (b"<content>  \xe5\xa5\xbd  </content>", "好"),
    ],
)
def test_a_reply_without_text_is_empty_text(body, content):
    xml = (
        b"<sms><mt><status>0</status></mt><mo><mobile>+86 138 0013 8000</mobile>"
        b"<recvcode>1069</recvcode>" + body + b"<time>2026-01-01 10:00:00</time></mo></sms>"
    )
    (reply,) = parse_inbound(xml)
    assert reply.content == content
    assert reply.mobile == "13800138000", "a mobile the normaliser reads is normalised"


def test_a_mobile_the_normaliser_cannot_read_is_kept_as_it_came():
    xml = (
        b"<sms><mo><mobile>+1 555 0100</mobile><recvcode>1</recvcode>"
        b"<content>x</content><time></time></mo></sms>"
    )
    (reply,) = scan_inbound(xml).records
    assert reply.mobile == "+1 555 0100"
    assert reply.received_at is None


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity"])
def test_a_balance_that_is_not_a_number_is_malformed_and_keeps_the_body(amount):
    body = f"<sms><mt><status>0</status><account>{amount}</account></mt></sms>".encode()
    with pytest.raises(MalformedResponseError, match=f"getAmount: the balance '{amount}'") as info:
        parse_balance(body)
    assert info.value.body == body


def test_a_cut_reply_body_is_malformed_for_the_strict_parser_and_keeps_the_body():
    body = b"<sms><mo><mobile>13800138000</mobile><recvcode>1</recvcode><content>x"
    with pytest.raises(MalformedResponseError, match="not well-formed") as info:
        parse_inbound(body)
    assert info.value.body == body


def test_errors_name_their_operation(refusing_url):
    from django_xunchen.client import XunchenClient

    with XunchenClient(refusing_url, "u", "p", "k") as client:
        with pytest.raises(NotSentError, match=r"^getAmount: "):
            client.get_balance()
        with pytest.raises(NotSentError, match=r"^queryMo: "):
            client.fetch_inbound()
        with pytest.raises(NotSentError, match=r"^queryReport: "):
            client.fetch_reports()
        with pytest.raises(NotSentError, match=r"^send: "):
            client.send("13800138000", "x")
