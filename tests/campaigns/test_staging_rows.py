"""Checking a campaign file's rows: what staff read for each refused row, the rules of
the campaign's own account (its encoding, its parts, its footer, its consent), the
suppression list by the campaign's kind, the totals over many batches, the words refused
before read once per file, and the table that finds repeated numbers."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import campaigns
from django_xunchen.campaigns import staging
from django_xunchen.campaigns.staging import FirstRows
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.exceptions import XunchenValidationError
from django_xunchen.models import BlockedWord, Suppression

from ..conftest import LOCMEM
from .test_campaigns import gbk_file, make

pytestmark = pytest.mark.django_db(transaction=True)

NOT_A_NUMBER = "电话见备注" * 50  # 250 characters in the number column


def csv(*lines):
    return io.BytesIO("\r\n".join(lines).encode())


def details(campaign):
    """Each staged row: its problem and what staff read about it."""
    return {r.row: (r.problem, r.detail_text()) for r in campaign.recipients.all()}


def test_each_refused_row_says_what_is_wrong_with_it():
    BlockedWord.objects.create(account="default", word="违禁")
    BlockedWord.objects.create(account="default", word="禁品")
    file = csv(
        "姓名,手机号码,参数1,参数2",
        "王五,13800138000,张三,快递",
        "赵六",
        "钱七,13700137000",
        "孙八,13600136000,李四,快递,多余",
        "周九,13500135000,王五,违禁品",
        f"吴十,13400134000,{'长' * 291},快递",
        "郑一,13300133000,a=b,快递",
        f"郑二,{NOT_A_NUMBER},张三,快递",
    )
    campaign = campaigns.stage(make(content="@1@您好，您的@2@已发货"), file, "a.csv")
    assert details(campaign) == {
        2: ("", ""),
        3: ("invalid", "Not a mainland China mobile number: —"),
        4: ("missing", "No value for @1@, @2@."),
        5: ("extra", "The row has 5 values, the header 4: a stray comma?"),
        6: ("blocked", "Refused before by the gateway: 禁品, 违禁"),
        7: ("too_long", "The text is 301 characters long; the gateway takes at most 300."),
        8: ("bad_text", "template parameter 1 contains '=', which the gateway uses as delimiters"),
        9: ("invalid", f"Not a mainland China mobile number: {NOT_A_NUMBER[:200]}"),
    }
    mobiles = dict(campaign.recipients.values_list("row", "mobile"))
    assert mobiles[3] == "" and mobiles[9] == NOT_A_NUMBER[:40], "as much as the column holds"
    assert (campaign.rows, campaign.valid, campaign.total_parts) == (8, 1, 1)


# ------------------------------------------------------------- the campaign's account


@pytest.fixture
def shop(settings):
    """``shop(**settings)``: a second account, "shop", with these settings of its own;
    the default account keeps the usual ones."""

    def configure(**own):
        settings.XUNCHEN = {
            **settings.XUNCHEN,
            "ACCOUNTS": {
                "default": {"BACKEND": LOCMEM, "USERNAME": "N1"},
                "shop": {"BACKEND": LOCMEM, "USERNAME": "S1", **own},
            },
            "USERNAME": "",
            "PASSWORD": "",
            "VERY_CODE": "",
        }
        return "shop"

    return configure


def test_the_account_s_encoding_decides_which_rows_can_be_sent(shop):
    account = shop(ENCODING="gbk")
    lines = (
        "手机号码,姓名",
        "13800138000,张三",
        "13900139000,张三😀",
        f"13700137000,{'长' * 297}😀",
        f"13600136000,{'长' * 298}😀",
    )
    campaign = campaigns.stage(make(content="@1@您好", account=account), csv(*lines), "a.csv")
    assert details(campaign) == {
        2: ("", ""),
        3: ("bad_text", "content cannot be sent as GBK: character '😀' (U+1F600) at position 2"),
        4: (
            "bad_text",
            "content cannot be sent as GBK: character '😀' (U+1F600) at position 297",
        ),
        5: ("too_long", "The text is 301 characters long; the gateway takes at most 300."),
    }
    on_default = campaigns.stage(make(content="@1@您好"), csv(*lines), "a.csv")
    assert on_default.valid == 3, "UTF-8 carries them"


def test_a_campaign_s_own_text_its_account_cannot_carry_is_refused_before_any_row(shop):
    account = shop(ENCODING="gbk")
    campaign = make(content="会员日😀全场五折", account=account)
    with pytest.raises(XunchenValidationError) as refused:
        campaigns.stage(campaign, gbk_file(), "a.csv")
    assert str(refused.value) == (
        "content cannot be sent as GBK: character '😀' (U+1F600) at position 3"
    )
    assert not campaign.recipients.exists()


@pytest.mark.parametrize("content", ["@1@您好，会员日全场五折", "张三您好，会员日全场五折"])
def test_parts_are_counted_by_the_account_s_part_lengths(content, shop):
    account = shop(PART_LENGTHS=(10, 8))
    campaign = campaigns.stage(make(content=content, account=account), gbk_file(), "a.csv")
    valid = campaign.recipients.filter(problem="")
    assert [r.parts for r in valid] == [2, 2, 2], "12 characters: more than 10, in parts of 8"
    assert campaign.total_parts == 6


def test_a_marketing_campaign_s_text_ends_with_its_account_s_footer(shop):
    account = shop(MARKETING_FOOTER="退订回N")
    campaign = campaigns.stage(
        make(kind="marketing", content="@1@您好", account=account), gbk_file(), "a.csv"
    )
    assert [text for _, text in campaigns.preview(campaign)] == [
        "张三您好退订回N",
        "王五您好退订回N",
        "钱七您好退订回N",
    ]


def test_consent_is_required_where_the_campaign_s_account_requires_it(shop):
    account = shop(REQUIRE_CONSENT=True)
    campaign = campaigns.stage(make(kind="marketing", account=account), gbk_file(), "a.csv")
    refused = [(r.row, r.detail_text()) for r in campaign.recipients.filter(problem="no_consent")]
    why = "No current consent to marketing: the account requires it."
    assert refused == [(4, why), (6, why), (10, why)] and campaign.valid == 0
    elsewhere = campaigns.stage(make(kind="marketing"), gbk_file(), "a.csv")
    assert elsewhere.valid == 3, "the default account requires none"


# ------------------------------------------------------------------- the whole file


@pytest.mark.parametrize(("kind", "problem"), [("marketing", "suppressed"), ("notification", "")])
def test_a_number_off_marketing_is_marked_only_in_a_marketing_campaign(kind, problem):
    Suppression.objects.create(mobile="13800138000", source="staff", scope="marketing")
    campaign = campaigns.stage(make(kind=kind), gbk_file(), "a.csv")
    row = campaign.recipients.get(row=4)
    assert row.problem == problem
    if problem:
        assert row.detail_text() == "On the suppression list (staff)."


def test_the_totals_add_up_over_every_batch(monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    assert (campaign.rows, campaign.valid, campaign.total_parts) == (6, 3, 3)


@pytest.mark.parametrize("content", ["@1@您好，会员日全场五折", "会员日全场五折"])
def test_the_words_refused_before_are_read_once_per_file(content):
    BlockedWord.objects.create(account="default", word="违禁")
    with CaptureQueriesContext(connection) as queries:
        campaign = campaigns.stage(make(content=content), gbk_file(), "a.csv")
    table = BlockedWord._meta.db_table
    assert len([q for q in queries.captured_queries if table in q["sql"]]) == 1
    assert campaign.valid == 3


def test_a_text_with_words_refused_before_is_refused_naming_them():
    BlockedWord.objects.create(account="default", word="违禁")
    BlockedWord.objects.create(account="default", word="禁品")
    campaign = make(content="会员日违禁品五折")
    with pytest.raises(CampaignError) as refused:
        campaigns.stage(campaign, gbk_file(), "a.csv")
    assert str(refused.value) == "The text has words the gateway refused before: 禁品, 违禁"


def test_a_long_file_name_is_kept_as_far_as_the_field_holds():
    name = "名" * 300 + ".csv"
    campaign = campaigns.stage(make(), gbk_file(), name)
    campaign.refresh_from_db()
    assert campaign.file_name == name[:255]


def test_only_a_draft_takes_a_file():
    campaign = make(state="running")
    with pytest.raises(CampaignError) as refused:
        campaigns.stage(campaign, gbk_file(), "a.csv")
    assert str(refused.value) == "Only a draft campaign takes a new file."
    assert not campaign.recipients.exists()


# ------------------------------------------------------------- the first-rows table


def test_the_first_rows_table_doubles_only_once_more_than_half_full():
    """8 bytes a slot, at most twice as many slots as numbers: 16 MB for 1,000,000."""
    table = FirstRows()
    for row, number in enumerate(range(13800000000, 13800000512), start=1):
        assert table.first(number, row) is None
    assert len(table.slots) == 1024
    table.first(13800000512, 513)
    assert len(table.slots) == 2048
    assert table.first(13800000000, 514) == 1 and table.first(13800000512, 515) == 513


def test_a_run_of_even_numbers_still_finds_a_free_slot():
    """512 even numbers fill every even slot of the first table, half of it: the next
    even number must be placed in an odd one (a probe kept to even slots never ends)."""
    table = FirstRows()
    numbers = [13900000256 + 2 * i for i in range(513)]
    for row, number in enumerate(numbers, start=1):
        assert table.first(number, row) is None
    assert [table.first(n, 1000) for n in numbers] == list(range(1, 514))


def test_a_row_beyond_the_table_s_bits_is_refused_naming_it():
    with pytest.raises(OverflowError) as refused:
        FirstRows().first(13900000000, 1 << 28)
    assert str(refused.value) == "row 268435456 is beyond the table's 28 bits"
