"""The text and its cost: the marketing footer, parts, the price per part and what the
balance buys, and the words a 110 refusal teaches."""

from decimal import Decimal

import pytest

from django_xunchen import estimate, get_balance, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    BalanceTooLowError,
    BlockedWordsError,
    LearnedBlockedWordsError,
    MissingOptOutFooterError,
)
from django_xunchen.models import BlockedWord, Message, Template
from django_xunchen.policy.pricing import parts, price_per_part

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBER = "13800138000"


# ----------------------------------------------------------------------- footer and parts


def test_the_footer_is_added_exactly_once_and_counted_in_the_parts(xunchen_outbox):
    text = "新" * 67
    (row,) = send_sms(NUMBER, text, kind="marketing")
    assert row.content == text + "回T退订" and xunchen_outbox[0].content == row.content
    (again,) = send_sms(NUMBER, text + "回T退订", kind="marketing")
    assert again.content.count("退订") == 1
    assert estimate(NUMBER, text, kind="marketing").parts == 2, "67 + 4 characters"
    assert estimate(NUMBER, text).parts == 1
    (plain,) = send_sms(NUMBER, text)
    assert "退订" not in plain.content


def test_the_footer_follows_the_text_itself_and_only_marketing_is_trimmed(xunchen_outbox):
    """A marketing text's surrounding whitespace goes, so that the footer follows its
    last word; any other text goes out exactly as given."""
    (promo,) = send_sms(NUMBER, "  新品上市 \n", kind="marketing")
    assert promo.content == "新品上市回T退订" == xunchen_outbox[0].content
    (notice,) = send_sms(NUMBER, "  您的订单已发货 \n")
    assert notice.content == "  您的订单已发货 \n" == xunchen_outbox[1].content


def test_a_marketing_template_without_a_footer_is_refused(xunchen_outbox):
    bare = Template.objects.create(template_id="M-1", name="promo", body="@1@折")
    with pytest.raises(MissingOptOutFooterError, match="M-1"):
        send_sms(NUMBER, template=bare, params={"1": "5"}, kind="marketing")
    assert not Message.objects.exists()
    good = Template.objects.create(template_id="M-2", name="promo", body="@1@折，拒收请回复R")
    assert send_sms(NUMBER, template=good, params={"1": "5"}, kind="marketing")[0].status == S.SENT


@pytest.mark.parametrize(
    ("length", "without", "with_signature"),
    [(70, 1, 2), (71, 2, 2), (134, 2, 3), (135, 3, 3)],
)
def test_parts(settings, length, without, with_signature):
    assert parts("字" * length) == without
    assert estimate(NUMBER, "字" * length).parts == without
    settings.XUNCHEN = {**settings.XUNCHEN, "SIGNATURE": "【江苏迅辰】"}
    assert parts("字" * length) == with_signature
    found = estimate([NUMBER, "13900139000"], "字" * length)
    assert (found.parts, found.total_parts) == (with_signature, 2 * with_signature)
    assert found.cost == Decimal("0.1") * 2 * with_signature


def test_the_price_per_part_decides_what_the_balance_buys(settings):
    assert get_balance().messages == 10000
    settings.XUNCHEN = {**settings.XUNCHEN, "PRICE_PER_PART": "0.05"}
    assert get_balance().messages == 20000


def test_the_price_per_part_of_no_account_named_is_the_default_account_s(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "PRICE_PER_PART": "0.05"}
    assert price_per_part() == Decimal("0.05") == price_per_part("default")


# ----------------------------------------------------------------------- learned words


def test_a_110_refusal_teaches_the_word(xunchen_outbox):
    locmem.fail_next(BlockedWordsError("110", "send", words=["发票"]))
    (row,) = send_sms(NUMBER, "代开发票", fail_silently=True)
    assert row.status == S.FAILED
    word = BlockedWord.objects.get()
    assert (word.word, word.account, word.source_id) == ("发票", "default", row.pk)
    with pytest.raises(LearnedBlockedWordsError, match="发票") as refused:
        send_sms(NUMBER, "正规发票", fail_silently=True)
    assert refused.value.words == ["发票"]
    assert Message.objects.count() == 1 and not xunchen_outbox
    word.is_active = False
    word.save()
    assert send_sms(NUMBER, "正规发票")[0].status == S.SENT


def test_the_refusal_of_learned_words_names_the_account_and_every_word(xunchen_outbox):
    BlockedWord.objects.create(word="发票", account="default")
    BlockedWord.objects.create(word="代开", account="default")
    with pytest.raises(LearnedBlockedWordsError) as refused:
        send_sms(NUMBER, "代开正规发票")
    assert str(refused.value) == (
        "the text has words the gateway refused before on account 'default': 代开, 发票"
    )
    assert refused.value.words == ["代开", "发票"]
    assert not Message.objects.exists() and not xunchen_outbox


# ----------------------------------------------------------------------- balance


def test_a_campaign_above_the_balance_is_refused_with_nothing_written(settings, xunchen_outbox):
    settings.XUNCHEN = {**settings.XUNCHEN, "BALANCE_CHECK_ABOVE": 10}
    numbers = [f"138{i:08d}" for i in range(11)]
    locmem.balance = locmem.Balance(amount=Decimal("1.0"), messages=10)
    try:
        with pytest.raises(BalanceTooLowError, match=r"costs 1\.1") as refused:
            send_sms(numbers, "新品", fail_silently=True)
        assert refused.value.needed == Decimal("1.1")
        assert not Message.objects.exists() and not xunchen_outbox
        assert len(send_sms(numbers[:10], "新品")) == 10, "at or below the size: no check"
        locmem.balance = locmem.Balance(amount=Decimal("2.0"), messages=20)
        assert len(send_sms(numbers, "新品")) == 11, "2.0 covers 1.1"
        Message.objects.filter(pk__in=Message.objects.order_by("pk")[:10]).update(status=S.QUEUED)
        with pytest.raises(BalanceTooLowError, match=r"has 1\.0 left"):
            send_sms(numbers, "新品")  # 1.0 of the 2.0 pays for what is queued
    finally:
        locmem.balance = locmem.Balance(amount=Decimal("1000"), messages=10000)
