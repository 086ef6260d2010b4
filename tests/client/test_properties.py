"""Property tests: whatever the input, each function gives a result or raises one of our
errors, never anything else, and its results keep their promises."""

import contextlib
import re
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_xunchen.client import (
    build_send_request,
    format_params,
    normalize_mobile,
    normalize_params,
    parse_balance,
    parse_inbound,
    parse_reports,
    parse_send,
    scan_inbound,
    scan_reports,
    validate_mobiles,
)
from django_xunchen.exceptions import XunchenError, XunchenValidationError

from .conftest import fixture

MOBILE = re.compile(r"1[3-9][0-9]{9}")
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.binary(),
    st.lists(st.text(max_size=15), max_size=5),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
)
FULL_WIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


@given(anything)
@example("١٣٨٠٠١٣٨٠٠٠")
@example("१३८००१३८०००")
@example("１３８００１３８０００")
def test_normalize_mobile_gives_11_ascii_digits_or_none(value):
    result = normalize_mobile(value)
    assert result is None or (MOBILE.fullmatch(result) and result.isascii())
    if result is not None:
        assert normalize_mobile(result) == result


@given(
    st.from_regex(MOBILE, fullmatch=True),
    st.sampled_from(["", "+86", "0086", "86", "+86 "]),
    st.booleans(),
    st.booleans(),
)
def test_every_way_of_writing_a_number_gives_the_number(number, prefix, spaced, full_width):
    text = prefix + (f"{number[:3]} {number[3:7]}-{number[7:]}" if spaced else number)
    if full_width:
        text = text.translate(FULL_WIDTH)
    assert normalize_mobile(text) == number


@given(st.text(alphabet=st.characters(categories=["Nd"]), min_size=11, max_size=11))
def test_digits_of_other_scripts_are_never_a_number(digits):
    ascii_form = unicodedata.normalize("NFKC", digits)
    result = normalize_mobile(digits)
    if not ascii_form.isascii():
        assert result is None
    else:
        assert result in (None, ascii_form)


@given(anything)
def test_validate_mobiles_returns_numbers_or_raises_our_error(value):
    try:
        numbers = validate_mobiles(value)
    except XunchenValidationError:
        return
    assert numbers and all(MOBILE.fullmatch(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)


params = st.one_of(
    st.none(),
    st.text(max_size=5),
    st.lists(st.one_of(st.text(max_size=6), st.integers(), st.none()), max_size=4),
    st.dictionaries(
        st.one_of(st.integers(-2, 5), st.text(max_size=3)),
        st.one_of(st.text(max_size=6), st.integers(), st.none(), st.lists(st.text())),
        max_size=4,
    ),
)


@given(params)
@example({"²": "x"})
@example({"２": "x", 1: "y"})
def test_params_normalise_to_a_wire_format_that_parses_back(value):
    try:
        pairs = normalize_params(value)
    except XunchenValidationError:
        return
    wire = format_params(pairs)
    parsed = {}
    for part in wire.split(",") if wire else []:
        key, sep, text = part.partition("=")
        assert sep and re.fullmatch(r"@[0-9]+@", key)
        parsed[int(key.strip("@"))] = text
    assert parsed == dict(pairs)
    assert [n for n, _ in pairs] == sorted({n for n, _ in pairs})


@given(st.text(max_size=320), st.sampled_from(["utf-8", "gbk"]))
def test_any_content_is_a_request_or_our_error(content, encoding):
    try:
        request = build_send_request("13800138000", content, encoding=encoding)
    except XunchenValidationError:
        return
    request.content.encode(encoding)
    assert 0 < len(request.content) <= 300


PARSERS = [parse_balance, parse_send, parse_reports, parse_inbound, scan_reports, scan_inbound]


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from(PARSERS))
@example(b"<sms><mt><status>0</status></mt></sms>", parse_balance)
@example(b"<!-- x --><?xml version='1.0'?><sms/>", parse_reports)
@example(b"<sms><rpt><mobile>1", scan_reports)
def test_any_body_is_a_result_or_our_error(body, parser):
    with contextlib.suppress(XunchenError):
        parser(body)


@given(st.sampled_from(["reports.xml", "inbound.xml"]), st.data())
def test_any_cut_of_a_real_body_gives_a_prefix_of_its_records(name, data):
    body = fixture(name)
    scan = scan_reports if name == "reports.xml" else scan_inbound
    full = scan(body).records
    cut = data.draw(st.integers(0, len(body)))
    try:
        partial = scan(body[:cut])
    except XunchenError:
        assert cut <= body.index(b"<sms>") + 5, "only a cut before the root may fail"
        return
    assert partial.records == full[: len(partial.records)]
    assert partial.complete == (len(partial.records) == len(full) and cut >= len(body) - 2)
