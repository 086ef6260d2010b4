"""Finding a campaign file's columns: the header above the first number, the number
column by its name or its first number, each ``@n@`` by its header in any of the
spellings staff use, else the next free column; the staff's choices win; only the first
rows are looked at, and every row keeps its number in the file."""

import io

import pytest

from django_xunchen import campaigns
from django_xunchen.campaigns.staging import Mapping, find_mapping
from django_xunchen.campaigns.text import CampaignError

from .test_campaigns import make


@pytest.mark.parametrize(
    ("rows", "needed", "expected"),
    [
        pytest.param(
            [["Emergency contact", "Mobile", "Name"], ["13900139000", "13800138000", "张三"]],
            [],
            Mapping(2, {}, ["Emergency contact", "Mobile", "Name"], 1),
            id="the-column-named-mobile-not-the-first-number",
        ),
        pytest.param(
            [["姓名", "紧急联系人", "手机号码"], ["张三", "13900139000", "13800138000"]],
            [1],
            Mapping(3, {1: 1}, ["姓名", "紧急联系人", "手机号码"], 1),
            id="the-column-named-in-chinese",
        ),
        pytest.param(
            [["张三", "13800138000"], ["李四", "13900139000"]],
            [1],
            Mapping(2, {1: 1}, [], 0),
            id="no-header-the-number-in-the-second-column",
        ),
        pytest.param(
            [["手机号码", "姓名"], [], ["13800138000", "张三"]],
            [1],
            Mapping(1, {1: 2}, ["手机号码", "姓名"], 1),
            id="a-blank-row-between-header-and-numbers",
        ),
        pytest.param(
            [["手机", "姓名"], ["13800138000", "张三"]],
            [1, 2],
            Mapping(1, {1: 2}, ["手机", "姓名"], 1),
            id="more-placeholders-than-columns",
        ),
    ],
)
def test_the_header_and_the_number_column_are_found(rows, needed, expected):
    assert find_mapping(rows, needed) == expected


@pytest.mark.parametrize(
    "spelling", ["参数{n}", "变量{n}", "@{n}@", " @{n}@ ", "param{n}", "Param {n}", "{n}"]
)
def test_each_placeholder_takes_the_column_headed_with_its_number(spelling):
    header = ["手机", spelling.format(n=2), spelling.format(n=1)]
    mapping = find_mapping([header, ["13800138000", "快递", "张三"]], [1, 2])
    assert mapping.params == {1: 3, 2: 2}, "by the header, not in the order of the columns"


def test_a_header_for_a_number_the_text_lacks_takes_no_column():
    mapping = find_mapping([["手机", "参数3", "参数1"], ["13800138000", "x", "张三"]], [1])
    assert mapping.params == {1: 3}


def test_the_staff_s_choice_of_the_number_column_wins():
    rows = [["手机", "电话"], ["13800138000", "13900139000"]]
    assert find_mapping(rows, [], mobile_column=2).mobile == 2


def test_a_column_the_staff_chose_serves_only_its_placeholder_whatever_its_header():
    rows = [["手机", "参数1", "参数2"], ["13800138000", "张三", "快递"]]
    mapping = find_mapping(rows, [1, 2], param_columns={2: 2})
    assert mapping.params == {2: 2, 1: 3}, "column 2 is @2@'s; @1@ takes the next free one"


@pytest.mark.parametrize(
    ("chosen", "message"),
    [({2: 3}, "The text has no @2@."), ({3: 2, 2: 3}, "The text has no @2@, @3@.")],
)
def test_a_chosen_placeholder_the_text_lacks_is_refused_by_name(chosen, message):
    rows = [["手机", "姓名", "备注"], ["13800138000", "张三", "x"]]
    with pytest.raises(CampaignError) as refused:
        find_mapping(rows, [1], param_columns=chosen)
    assert str(refused.value) == message


def test_rows_without_a_number_are_refused_saying_how_many_were_looked_at():
    with pytest.raises(CampaignError) as refused:
        find_mapping([["姓名"], ["张三"], ["李四"]], [])
    assert str(refused.value) == "No mobile number in the first 3 rows."


def names_then_numbers(names, numbers):
    lines = ["姓名,手机号码"]
    lines += [f"张{i}," for i in range(names)]
    lines += [f"李{i},139{i:08d}" for i in range(numbers)]
    return io.BytesIO("\r\n".join(lines).encode())


@pytest.mark.django_db(transaction=True)
def test_only_the_first_twenty_rows_are_looked_at_for_the_columns():
    with pytest.raises(CampaignError) as refused:
        campaigns.stage(make(content="您好"), names_then_numbers(25, 3), "a.csv")
    assert str(refused.value) == "No mobile number in the first 20 rows."


@pytest.mark.django_db(transaction=True)
def test_rows_past_the_first_twenty_keep_their_numbers_in_the_file():
    campaign = campaigns.stage(make(content="您好"), names_then_numbers(0, 30), "a.csv")
    rows = list(campaign.recipients.values_list("row", "mobile"))
    assert rows == [(n, f"139{n - 2:08d}") for n in range(2, 32)]
    assert campaign.file_rows == 31 and (campaign.rows, campaign.valid) == (30, 30)


def test_a_row_may_fill_the_header_s_columns_and_every_mapped_one_past_it():
    """``width``: a parameter the staff mapped to a column the header does not reach
    still takes its value; with no header, a row may be any width."""
    assert Mapping(1, {1: 4}, ["手机号码", "姓名"], 1).width == 4
    assert Mapping(3, {1: 1}, ["姓名"], 1).width == 3
    assert Mapping(1, {1: 2}, ["手机号码", "姓名", "备注"], 1).width == 3
    assert Mapping(1, {1: 2}, [], 0).width is None
