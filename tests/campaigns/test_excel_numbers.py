"""Numbers as Excel writes them in a CSV (campaigns/spreadsheets.excel_number): a mobile
comes back as its digits, and no cell, however large the number it spells, costs more than
reading it."""

import io

import pytest

from django_xunchen import campaigns
from django_xunchen.campaigns.spreadsheets import excel_number, shortened

from .test_campaigns import make


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ("13800138000", "13800138000"),
        ("13800138000.0", "13800138000"),
        ("1.3800138000E+10", "13800138000"),
        ("1.38E+10", "1.38E+10"),  # not exact: could be any of 10,000 numbers
        ("13800138000.5", "13800138000.5"),
        ("-13800138000", "-13800138000"),
        ("12345678901234567890", "12345678901234567890"),
        ("1.0000000000E+19", "10000000000000000000"),
        ("1.0000000000E+20", "1.0000000000E+20"),
        ("1.0000000000E+5000", "1.0000000000E+5000"),
        ("1.0000000000E+1000000", "1.0000000000E+1000000"),
        ("1E+999999999999999999", "1E+999999999999999999"),
    ],
)
def test_a_cell_comes_back_as_digits_only_when_they_are_exact_and_few(cell, read):
    assert excel_number(cell) == read


@pytest.mark.parametrize(
    ("cell", "short"),
    [
        ("1.38E+10", True),
        (" 1.3800E+10 ", True),
        ("1.3800138000E+10", False),  # exact
        ("1.38E+9", False),  # ten digits: not a mobile's size
        ("1.38E+11", False),
        ("1.0000000000E+5000", False),
        ("13800138000", False),
    ],
)
def test_only_a_mobile_s_size_in_too_few_digits_is_shortened_by_excel(cell, short):
    assert shortened(cell) is short


@pytest.mark.django_db(transaction=True)
def test_a_number_too_large_to_write_out_is_a_refused_row_not_an_error():
    file = io.BytesIO(
        "\r\n".join(
            ["手机号码", "13800138000", "1.0000000000E+5000", "1.0000000000E+1000000"]
        ).encode()
    )
    campaign = campaigns.stage(make(content="上新了"), file, "a.csv")
    problems = dict(campaign.recipients.values_list("row", "problem"))
    assert problems == {2: "", 3: "invalid", 4: "invalid"}
