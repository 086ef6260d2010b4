"""Where a body broken part-way is cut (client/parsing._whole_records): lxml 6 reports the
record at a break as ended, so the cut is tried at the last few end tags, one at a time,
and every whole record before the break is kept; the error says what lxml found and the
status ``<mt>`` gave before the break still counts."""

from django_xunchen.client.parsing import scan_reports


def rpt(msgid: bytes, mobile: bytes = b"13800138000") -> bytes:
    return (
        b"<rpt><mobile>" + mobile + b"</mobile><msgid>" + msgid + b"</msgid>"
        b"<status>DELIVRD</status><time>2015-06-08 11:21:46</time></rpt>"
    )


def test_a_bare_ampersand_in_a_record_keeps_every_record_before_it():
    """lxml 6 hands out the broken third record as ended: the cut after it fails, and
    the one before it, not two before, is the whole document."""
    body = b"<sms>" + rpt(b"1") + rpt(b"2") + rpt(b"3", b"1380013&8000") + rpt(b"4") + b"</sms>"
    scan = scan_reports(body)
    assert [r.msgid for r in scan.records] == ["1", "2"]
    assert not scan.complete
    assert "after 2 complete records" in scan.error


def test_a_body_broken_in_its_first_record_keeps_nothing_and_drops_nothing():
    scan = scan_reports(b"<sms>" + rpt(b"1", b"1380013&8000") + rpt(b"2") + b"</sms>")
    assert scan.records == [] and not scan.complete
    assert "after 0 complete records" in scan.error
    assert "lacked a required field" not in scan.error


def test_the_error_of_a_broken_body_says_what_the_parser_found():
    scan = scan_reports(b"<sms>" + rpt(b"1") + rpt(b"2", b"1380013&8000") + b"</sms>")
    assert scan.error.startswith("the XML stops or breaks after 1 complete records: ")
    assert "line 1, column" in scan.error


def test_a_broken_answer_whose_status_said_nothing_to_fetch_gives_no_record():
    """``<mt>`` said 104 before the break: the records after it are not taken, as in a
    whole answer with that status."""
    scan = scan_reports(b"<sms><mt><status>104</status></mt>" + rpt(b"1") + b"<rpt><mobile>13")
    assert scan.records == [] and not scan.complete
    whole = scan_reports(b"<sms><mt><status>0</status></mt>" + rpt(b"1") + b"<rpt><mobile>13")
    assert [r.msgid for r in whole.records] == ["1"]
