"""What the parser says about an answer it refuses, and the bytes it keeps for diagnosis
(the admin's error reports show them); and how it picks the text's encoding."""

import datetime as dt

import pytest

from django_xunchen.client import parsing
from django_xunchen.client.parsing import decode_body, parse_balance, parse_send, parse_xml
from django_xunchen.exceptions import MalformedResponseError, UnsafeXMLError

DECLARED = b'<?xml version="1.0" encoding="UTF-8"?>'


def balance(account):
    return DECLARED + b"<sms><mt><status>0</status><account>%s</account></mt></sms>" % account


def sent(msgid):
    return DECLARED + b"<sms><mt><status>0</status><msgid>%s</msgid></mt></sms>" % msgid


@pytest.mark.parametrize(
    ("parse", "body", "error", "message"),
    [
        (parse_xml, b"", MalformedResponseError, "the response body is empty"),
        (parse_xml, b" \r\n ", MalformedResponseError, "the response body is empty"),
        (parse_xml, b"<sms><mt>", MalformedResponseError, "the response is not well-formed XML: "),
        (
            parse_xml,
            DECLARED + b"<html><body>502</body></html>",
            MalformedResponseError,
            "expected an <sms> root element, found <html>",
        ),
        (
            parse_xml,
            b'<!DOCTYPE sms [<!ENTITY x "y">]><sms>&x;</sms>',
            UnsafeXMLError,
            "the response declares a DOCTYPE or entities; refused",
        ),
        (
            parse_xml,
            b"<sms>\xff\xff</sms>",
            MalformedResponseError,
            "the response is neither UTF-8 nor GBK text",
        ),
        (
            parse_balance,
            DECLARED + b"<sms></sms>",
            MalformedResponseError,
            "getAmount: the response has no <mt> element",
        ),
        (
            parse_balance,
            balance(b"abc"),
            MalformedResponseError,
            "getAmount: the balance 'abc' is not a number",
        ),
        (
            parse_balance,
            balance(b"NaN"),
            MalformedResponseError,
            "getAmount: the balance 'NaN' is not a number",
        ),
        (
            parse_send,
            DECLARED + b"<sms></sms>",
            MalformedResponseError,
            "send: the response has no <mt> element",
        ),
        (parse_send, sent(b""), MalformedResponseError, "send: status 0 but no msgid"),
        (
            parse_send,
            sent(b"9" * 65),
            MalformedResponseError,
            "send: status 0 but the msgid is 65 characters long, over 64; it cannot be "
            "matched to reports: " + "9" * 65,
        ),
    ],
)
def test_a_refused_answer_says_why_and_keeps_its_bytes(parse, body, error, message):
    with pytest.raises(error) as info:
        parse(body)
    assert type(info.value) is error
    assert str(info.value).startswith(message)
    if not message.endswith(": "):
        assert str(info.value) == message
    assert info.value.body == body


def test_a_msgid_of_the_longest_length_is_accepted():
    assert parse_send(sent(b"9" * 64)).msgid == "9" * 64


def test_an_answer_of_exactly_the_limit_is_read_and_one_byte_more_is_refused(monkeypatch):
    body = balance(b"12.5")
    monkeypatch.setattr(parsing, "MAX_QUERY_BODY_BYTES", len(body))
    assert parse_xml(body).tag == "sms"
    with pytest.raises(MalformedResponseError) as info:
        parse_xml(body + b" ")
    assert str(info.value) == f"the response is over {len(body)} bytes"
    assert info.value.body == body + b" "


def test_comments_inside_fields_are_not_part_of_their_text():
    body = DECLARED + (
        b"<sms><mt><status>0<!--ok--></status><account><!-- yuan -->12.5</account></mt></sms>"
    )
    assert str(parse_balance(body).amount) == "12.5"


def test_the_declared_encoding_wins_when_the_bytes_fit_it():
    """These bytes are 你好 in UTF-8 and 浣犲ソ in GBK: the declaration decides."""
    text = "你好".encode()
    assert decode_body(b'<?xml version="1.0" encoding="GBK"?><sms>' + text) == "<sms>浣犲ソ"
    assert decode_body(b'<?xml version="1.0"?><sms>' + text) == "<sms>你好"
    assert decode_body(b"\xef\xbb\xbf<?xml version='1.0' encoding='gbk'?><sms>" + text) == (
        "<sms>浣犲ソ"
    ), "after a byte-order mark too"


def test_a_declaration_that_does_not_fit_falls_back_to_utf8_then_gbk():
    chinese = "你好"
    declared_ascii = b'<?xml version="1.0" encoding="us-ascii"?><sms>'
    assert decode_body(declared_ascii + chinese.encode()) == "<sms>你好"
    assert decode_body(declared_ascii + chinese.encode("gbk")) == "<sms>你好"


def test_processing_instructions_inside_fields_are_dropped():
    body = DECLARED + b"<sms><mt><status>0</status><msgid>12<?x y?>34</msgid></mt></sms>"
    assert parse_send(body).msgid == "1234"


def test_a_record_s_fields_first_of_a_repeat_empty_as_empty():
    body = DECLARED + (
        b"<sms><rpt><mobile>+86 138-0013-8000</mobile><msgid>7</msgid><status>DELIVRD</status>"
        b"<status>UNDELIV</status><time>2015-04-02 22:12:11</time><extno/></rpt>"
        b"<rpt><mobile>abc</mobile><msgid>8</msgid><status>UNDELIV</status></rpt></sms>"
    )
    first, odd = parsing.parse_reports(body)
    assert (first.mobile, first.status, first.delivered, first.extno) == (
        "13800138000",
        "DELIVRD",
        True,
        "",
    )
    assert (odd.mobile, odd.delivered, odd.reported_at) == ("abc", False, None)


def test_a_reply_without_content_or_with_an_empty_one_has_empty_text():
    body = DECLARED + (
        b"<sms><mo><mobile>8613800138000</mobile><recvcode>1069</recvcode><content/></mo>"
        b"<mo><mobile>x1</mobile><recvcode>1069</recvcode></mo>"
        b"<mo><mobile>13800138000</mobile><content> TD </content></mo></sms>"
    )
    empty, missing, opted_out = parsing.parse_inbound(body)
    assert (empty.mobile, empty.content) == ("13800138000", "")
    assert (missing.mobile, missing.content) == ("x1", "")
    assert opted_out.content == "TD"


def test_a_broken_query_answer_keeps_its_bytes():
    body = DECLARED + b"<sms><mo><mobile>13800138000</mobile></mo><mo>"
    with pytest.raises(MalformedResponseError) as info:
        parsing.parse_inbound(body)
    assert str(info.value).startswith("the response is not well-formed XML: ")
    assert info.value.body == body


def test_a_declaration_said_twice_is_still_the_protocol():
    """Some proxies put their own declaration before the gateway's: each parser drops
    every declaration, wherever it stands."""
    twice = DECLARED + b"\n" + DECLARED + b"\n"
    assert parse_balance(twice + b"<sms><mt><status>0</status><account>12.5</account></mt></sms>")
    scan = parsing.scan_reports(
        twice + b"<sms><mt><status>0</status></mt><rpt><msgid>1</msgid><mobile>13800138000"
        b"</mobile><status>DELIVRD</status></rpt></sms>"
    )
    assert scan.complete and [r.msgid for r in scan.records] == ["1"]


def test_a_time_without_leading_zeros_is_still_read():
    from django_xunchen.client.parsing import CHINA_TZ, parse_time

    assert parse_time(" 2015-6-8 9:05:07 ") == dt.datetime(2015, 6, 8, 9, 5, 7, tzinfo=CHINA_TZ)


def test_a_report_missing_its_fields_is_kept_with_them_empty():
    """One odd record never loses the others: what is missing reads as empty."""
    scan = parsing.scan_reports(
        DECLARED + b"<sms><mt><status>0</status></mt><rpt><extno>12</extno></rpt></sms>"
    )
    ((report,),) = [scan.records]
    assert (report.mobile, report.msgid, report.status, report.delivered) == ("", "", "", False)
    assert (report.reported_at, report.extno) == (None, "12")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"  ", "the response body is empty"),
        (DECLARED + b"<html/>", "expected an <sms> root element, found <html>"),
        (b"502 Bad Gateway", "the response is not XML: "),
    ],
)
def test_the_record_reader_says_what_it_refused_and_keeps_the_bytes(body, message):
    with pytest.raises(MalformedResponseError) as info:
        parsing.scan_reports(body)
    assert str(info.value).startswith(message) and info.value.body == body
