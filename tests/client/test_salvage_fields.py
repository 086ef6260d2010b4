"""The records kept from a body broken part-way (client/parsing._salvage): each must carry
the fields the protocol gives every one of its kind, a msgid of the longest length
included."""

from django_xunchen.client.parsing import scan_inbound, scan_reports


def rpt(msgid, mobile=b"13800138000"):
    return (
        b"<rpt><mobile>" + mobile + b"</mobile><msgid>" + msgid + b"</msgid>"
        b"<status>DELIVRD</status><time>2015-06-08 11:21:46</time></rpt>"
    )


def mo(mobile, time=b"<time>2015-06-08 11:21:46</time>"):
    return b"<mo><mobile>" + mobile + b"</mobile><content>TD</content>" + time + b"</mo>"


def test_a_report_s_msgid_of_the_longest_length_is_kept_and_one_longer_is_not():
    body = b"<sms>" + rpt(b"9" * 64) + rpt(b"8" * 65) + b"<rpt><mobile>138"
    scan = scan_reports(body)
    assert [r.msgid for r in scan.records] == ["9" * 64]
    assert scan.error.startswith("the XML stops or breaks after 1 complete records: ")
    assert scan.error.endswith("; 1 records before the break lacked a required field")


def test_a_reply_needs_both_a_mobile_and_a_time():
    body = b"<sms>" + mo(b"13800138000") + mo(b"12345") + mo(b"13900139000", b"") + b"<mo><mob"
    scan = scan_inbound(body)
    assert [r.mobile for r in scan.records] == ["13800138000"]
    assert "2 records before the break lacked a required field" in scan.error


def test_an_end_tag_inside_cdata_is_text_not_the_end_of_a_record():
    body = (
        b"<sms>"
        + mo(b"13800138000").replace(b"TD", b"<![CDATA[a </mo> b]]>")
        + mo(b"13900139000")
        + b"<mo><mob"
    )
    scan = scan_inbound(body)
    assert [(r.mobile, r.content) for r in scan.records] == [
        ("13800138000", "a </mo> b"),
        ("13900139000", "TD"),
    ]
