import datetime as dt
from decimal import Decimal

import pytest

from django_xunchen.client import (
    CHINA_TZ,
    parse_balance,
    parse_inbound,
    parse_reports,
    parse_send,
    parsing,
    scan_inbound,
    scan_reports,
)
from django_xunchen.exceptions import (
    InvalidAccountError,
    MalformedResponseError,
    UnknownStatusError,
    UnsafeXMLError,
)

from .conftest import fixture


def test_balance_sample_with_escaped_quotes_in_declaration():
    assert fixture("balance_ok.xml").startswith(b'<?xml version=\\"1.0\\"')
    balance = parse_balance(fixture("balance_ok.xml"))
    assert balance.amount == Decimal("5000")
    assert balance.messages == 50000


def test_fractional_balance():
    balance = parse_balance(b"<sms><mt><status>0</status><account> 12.35 </account></mt></sms>")
    assert balance.amount == Decimal("12.35")
    assert balance.messages == 123


def test_non_numeric_balance_is_malformed():
    with pytest.raises(MalformedResponseError, match="not a number"):
        parse_balance(b"<sms><mt><status>0</status><account>lots</account></mt></sms>")


def test_send_sample_with_trailing_comment():
    result = parse_send(fixture("send_ok.xml"), ("13800138000",))
    assert result.msgid == "816f333305664fb9bdd8c1bc96ae12b8"
    assert result.mobiles == ("13800138000",)


def test_send_status_0_without_msgid_is_malformed():
    with pytest.raises(MalformedResponseError, match="no msgid"):
        parse_send(b"<sms><mt><status>0</status><msgid></msgid></mt></sms>")


def test_report_sample_with_comments_inside_records():
    reports = parse_reports(fixture("reports.xml"))
    assert [(r.msgid, r.status, r.delivered) for r in reports] == [
        ("7506751276725633025", "MA:0006", False),
        ("7506751276725633026", "MA:0006", False),
        ("7507418680283693057", "DELIVRD", True),
    ]
    first = reports[0]
    assert first.mobile == "15951977097"
    assert first.extno == ""
    assert first.reported_at == dt.datetime(2015, 6, 8, 11, 21, 46, tzinfo=CHINA_TZ)
    assert first.reported_at.utcoffset() == dt.timedelta(hours=8)


def test_inbound_sample():
    replies = parse_inbound(fixture("inbound.xml"))
    assert [(r.mobile, r.recvcode, r.content) for r in replies] == [
        ("15951977097", "106905994140001", "江苏迅辰信息技术有限公司"),
        ("15951977097", "106905994140001", "4006000699"),
    ]
    assert replies[1].received_at == dt.datetime(2014, 4, 3, 8, 12, 11, tzinfo=CHINA_TZ)


def test_empty_status_sample_is_an_error_naming_it():
    with pytest.raises(UnknownStatusError, match="empty"):
        parse_reports(fixture("query_error_empty_status.xml"))


def test_blank_lines_before_the_declaration_and_stray_spaces():
    body = (
        b'\n\n  <?xml version="1.0" encoding="utf-8" ?>  \n\n<sms>\n<rpt>\n'
        b"<mobile> 13800138000 </mobile><msgid> 42 </msgid><status> DELIVRD </status>"
        b"<time> 2026-01-02 03:04:05 </time><extno/></rpt></sms>  \n"
    )
    (report,) = parse_reports(body)
    assert report.mobile == "13800138000"
    assert report.msgid == "42"
    assert report.delivered is True
    assert report.extno == ""


def test_malformed_comments_are_tolerated():
    body = (
        b"<sms><rpt><mobile>13800138000</mobile><!-- a -- b --><msgid>1</msgid><!---x--->"
        b"<status>UNDELIV</status><time>2026-01-02 03:04:05</time></rpt></sms>"
    )
    (report,) = parse_reports(body)
    assert report.status == "UNDELIV"
    assert report.extno == ""


def test_gbk_body_under_utf8_declaration():
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><sms><mo><mobile>13800138000</mobile>'
        "<recvcode>1069059941400100001</recvcode><content>退订</content>"
        "<time>2026-01-02 03:04:05</time></mo></sms>"
    )
    (reply,) = parse_inbound(text.encode("gbk"))
    assert reply.content == "退订"


def test_gbk_declared_body():
    text = (
        '<?xml version="1.0" encoding="GBK"?><sms><mo><mobile>13800138000</mobile>'
        "<recvcode>1</recvcode><content>你好</content><time></time></mo></sms>"
    )
    (reply,) = parse_inbound(text.encode("gbk"))
    assert reply.content == "你好"
    assert reply.received_at is None


def test_utf8_bom():
    assert parse_balance(b"\xef\xbb\xbf" + fixture("balance_ok.xml")).messages == 50000


def test_hex_and_numeric_msgids_stay_strings():
    body = (
        b"<sms><rpt><mobile>13800138000</mobile><msgid>0007506751276725633025</msgid>"
        b"<status>DELIVRD</status><time>2026-01-02 03:04:05</time><extno>12</extno></rpt></sms>"
    )
    assert parse_reports(body)[0].msgid == "0007506751276725633025"


def test_unparseable_time_keeps_the_record():
    body = (
        b"<sms><rpt><mobile>13800138000</mobile><msgid>1</msgid><status>DELIVRD</status>"
        b"<time>yesterday</time></rpt></sms>"
    )
    (report,) = parse_reports(body)
    assert report.reported_at is None


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE sms [<!ENTITY x "boom">]>'
        b"<sms><mt><status>&x;</status></mt></sms>",
        b'<!DOCTYPE sms SYSTEM "http://evil.test/x.dtd"><sms/>',
        b'<sms><!ENTITY x SYSTEM "file:///etc/passwd"></sms>',
    ],
)
def test_doctype_and_entities_refused(body):
    with pytest.raises(UnsafeXMLError, match="DOCTYPE or entities"):
        parse_reports(body)


def test_billion_laughs_refused_unparsed():
    lol = b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    with pytest.raises(UnsafeXMLError):
        parse_balance(lol + b"<sms><mt><status>&lol2;</status></mt></sms>")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"<html><body>502 Bad Gateway</body></html>", "<sms> root"),
        (b"<sms><mt><status>0</status>", "not well-formed"),
        (b"\xff\xfe\x00garbage\x81", "neither UTF-8 nor GBK"),
    ],
)
def test_not_the_protocol(body, message):
    with pytest.raises(MalformedResponseError, match=message):
        parse_reports(body)


def test_balance_response_without_mt():
    with pytest.raises(MalformedResponseError, match="no <mt>"):
        parse_balance(b"<sms></sms>")


def test_empty_sms_for_a_query_is_an_empty_list():
    assert parse_reports(b"<sms>\n</sms>") == []
    assert parse_inbound(b"<sms/>") == []


# ---------------------------------------------------------------- record by record


@pytest.mark.parametrize(
    ("name", "scan", "count", "end_tag"),
    [("reports.xml", scan_reports, 3, b"</rpt>"), ("inbound.xml", scan_inbound, 2, b"</mo>")],
)
def test_every_cut_of_a_sample_gives_exactly_the_records_completed_before_it(
    name, scan, count, end_tag
):
    """At every byte: a record whose end tag was cut off is never returned, whole or in
    part, whatever lxml does with the elements still open at the break."""
    body = fixture(name)
    whole = scan(body)
    assert whole.complete and len(whole.records) == count
    for cut in range(body.index(b"<sms>") + 5, len(body) - 1):
        result = scan(body[:cut])
        completed = body[:cut].count(end_tag)
        assert result.records == whole.records[:completed], f"cut at byte {cut}"
        if not result.complete:
            assert f"after {completed} complete records" in result.error


def test_a_body_broken_in_the_middle_keeps_only_the_records_before_the_break():
    good = b"<rpt><mobile>13800138000</mobile><msgid>1</msgid><status>DELIVRD</status>"
    good += b"<time>2015-06-08 11:21:46</time></rpt>"
    broken = b"<rpt><mobile>13800138001</mobile><msgid>2</msgid><status>DEL<<"
    after = good.replace(b"<msgid>1", b"<msgid>3")
    scan = scan_reports(b"<sms>" + good + broken + after + b"</sms>")
    assert [r.msgid for r in scan.records] == ["1"] and not scan.complete


def test_a_record_of_a_broken_body_without_a_required_field_is_dropped_and_noted():
    whole = b"<rpt><mobile>13800138000</mobile><msgid>1</msgid><status>DELIVRD</status>"
    whole += b"<time>2015-06-08 11:21:46</time></rpt>"
    no_status = whole.replace(b"<msgid>1</msgid><status>DELIVRD</status>", b"<msgid>2</msgid>")
    scan = scan_reports(b"<sms>" + whole + no_status + b"<rpt><mobile>138")
    assert [r.msgid for r in scan.records] == ["1"]
    assert "1 records before the break lacked a required field" in scan.error


def test_a_cut_body_is_malformed_for_the_strict_parser():
    body = fixture("reports.xml")
    with pytest.raises(MalformedResponseError, match="not well-formed"):
        parse_reports(body[: len(body) // 2])


def test_a_gateway_error_in_a_scan_is_raised():
    with pytest.raises(InvalidAccountError):
        scan_reports(b"<sms><mt><status>101</status></mt></sms>")


def test_104_in_a_scan_is_no_records():
    assert scan_inbound(b"<sms><mt><status>104</status></mt></sms>").records == []


def test_104_is_no_records_even_with_records_after_it():
    """The status is the gateway's word: 104 says there is nothing to fetch."""
    record = (
        b"<rpt><mobile>13800138000</mobile><msgid>1</msgid><status>DELIVRD</status>"
        b"<time>2015-06-08 11:21:46</time></rpt>"
    )
    assert scan_reports(b"<sms><mt><status>104</status></mt>" + record + b"</sms>").records == []
    assert len(scan_reports(b"<sms><mt><status>0</status></mt>" + record + b"</sms>").records) == 1


def test_a_long_answer_never_holds_more_records_than_one_chunk_of_text():
    """The text is fed 64 KiB at a time; each record read is cleared and those before it
    dropped from the tree, so a body of a million records is never held whole."""
    held = []

    def convert(element):
        held.append(len(element.getparent()))
        return parsing._report(element)

    record = (
        b"<rpt><mobile>13800138000</mobile><msgid>%05d</msgid><status>DELIVRD</status>"
        b"<time>2015-06-08 11:21:46</time></rpt>"
    )
    body = b"<sms><mt><status>0</status></mt>" + b"".join(record % n for n in range(10000))
    scan = parsing._scan(body + b"</sms>", "queryReport", "rpt", convert)
    assert len(scan.records) == 10000 and scan.complete
    # A chunk's whole records, the one cut at its start, the last one read before it
    # and <mt>:
    assert max(held) <= 65536 // len(record % 0) + 3


@pytest.mark.parametrize(
    "body",
    [
        b"<!-- generated --><?xml version='1.0' encoding='UTF-8'?><sms><mt><status>0</status>"
        b"<account>12.5</account></mt></sms>",
        b'\n <!-- a --> <!-- b -->\n<?xml version="1.0" encoding="UTF-8"?>\n<sms><mt>'
        b"<status>0</status><account>12.5</account></mt></sms>",
        b"<sms><?xml version='1.0'?><mt><status>0</status><account>12.5</account></mt></sms>",
    ],
)
def test_a_comment_before_the_declaration_is_parsed(body):
    assert parse_balance(body).amount == Decimal("12.5")


def test_a_declaration_lxml_refuses_is_malformed_never_a_bare_value_error():
    with pytest.raises(MalformedResponseError):
        parse_balance(b"<sms><mt><status>0</status></mt></sms><?xml version='1.0'?>junk")


def test_a_msgid_too_long_to_store_is_malformed_and_named():
    msgid = "9" * 65
    with pytest.raises(MalformedResponseError, match=msgid):
        parse_send(f"<sms><mt><status>0</status><msgid>{msgid}</msgid></mt></sms>".encode())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-08 11:21:46", dt.datetime(2015, 6, 8, 11, 21, 46)),
        ("2015-06-08 11:21", dt.datetime(2015, 6, 8, 11, 21)),
        ("20150608112146", dt.datetime(2015, 6, 8, 11, 21, 46)),
        ("2015/06/08 11:21:46", dt.datetime(2015, 6, 8, 11, 21, 46)),
        (" 2015-06-08 11:21:46 ", dt.datetime(2015, 6, 8, 11, 21, 46)),
    ],
)
def test_every_time_format_the_gateway_uses(text, expected):
    from django_xunchen.client.parsing import parse_time

    assert parse_time(text) == expected.replace(tzinfo=CHINA_TZ)


def test_the_parser_itself_resolves_no_entity_and_keeps_no_comment_or_instruction():
    """Defence in depth: DOCTYPEs are refused before lxml sees the text, and the parser
    would not expand an entity, keep a comment or a processing instruction anyway."""
    from lxml import etree

    from django_xunchen.client.parsing import _parser

    xxe = b'<!DOCTYPE sms [<!ENTITY e "EXPANDED">]><sms><!-- c --><?pi x?><a>&e;</a></sms>'
    root = etree.fromstring(xxe, parser=_parser())
    assert b"EXPANDED" not in etree.tostring(root)
    assert len(root) == 1 and root[0].tag == "a"


def test_the_parser_refuses_to_recover_and_to_build_a_huge_tree():
    from lxml import etree

    from django_xunchen.client.parsing import _parser

    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(b"<sms><mt></sms>", parser=_parser())
    deep = b"<a>" * 300 + b"</a>" * 300
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(deep, parser=_parser())


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "the response body is empty"),
        (b"  \n ", "the response body is empty"),
        (b"<html><body>502</body></html>", "expected an <sms> root element, found <html>"),
        (b"<sms><mt><status>0</status>", "the response is not well-formed XML"),
    ],
)
def test_a_balance_answer_that_is_not_the_protocol_keeps_its_body(body, words):
    with pytest.raises(MalformedResponseError, match=words) as info:
        parse_balance(body)
    assert info.value.body == body


def test_a_body_over_the_size_limit_is_refused_unparsed(monkeypatch):
    from django_xunchen.client import parsing

    body = b"<sms><mt><status>0</status><account>1</account></mt></sms>"
    monkeypatch.setattr(parsing, "MAX_QUERY_BODY_BYTES", len(body) - 1)
    with pytest.raises(MalformedResponseError, match=f"over {len(body) - 1} bytes") as info:
        parse_balance(body)
    assert info.value.body == body
    monkeypatch.setattr(parsing, "MAX_QUERY_BODY_BYTES", len(body))
    assert parse_balance(body).messages == 10


def test_the_pull_parser_is_as_hard():
    from lxml import etree

    from django_xunchen.client.parsing import _pull_parser

    parser = _pull_parser()
    parser.feed(b'<!DOCTYPE sms [<!ENTITY e "EXPANDED">]><sms><!-- c --><?pi x?><a>&e;</a></sms>')
    root = parser.close()
    assert b"EXPANDED" not in etree.tostring(root)
    assert len(root) == 1 and root[0].tag == "a"
    broken = _pull_parser()
    with pytest.raises(etree.XMLSyntaxError):
        broken.feed(b"<sms><mt></sms>")
        broken.close()


@pytest.mark.parametrize("status", [b"1", b"10", b""])
def test_a_status_cut_short_by_the_break_is_not_taken_for_a_refusal(status):
    """lxml 6 closes the elements open at the break: ``<status>104`` cut to ``1`` must
    not read as the gateway's status 1."""
    scan = scan_reports(b"<sms><mt><status>" + status)
    assert scan.records == [] and not scan.complete
