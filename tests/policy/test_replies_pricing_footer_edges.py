"""The edges of reply keywords (django_xunchen.policy.replies), of the estimate of a
send (policy.pricing) and of the footer check (policy.footer): which replies act and
what they record, an estimate on an account of its own, and the refusal's words."""

import datetime as dt
from decimal import Decimal

import pytest

from django_xunchen import signals
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.exceptions import MissingOptOutFooterError
from django_xunchen.models import Consent, InboundMessage, Suppression, Template
from django_xunchen.policy.footer import check_template_footer
from django_xunchen.policy.pricing import Estimate, estimate
from django_xunchen.policy.replies import apply_reply_keywords, normalize_reply

pytestmark = pytest.mark.django_db(transaction=True)
N, M = "13800138000", "13900139000"
T0 = dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=CHINA_TZ)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"


def reply(content, mobile=N, at=T0 + dt.timedelta(microseconds=250_000)):
    return InboundMessage.objects.create(
        mobile=mobile, recvcode="10690001", content=content, received_at=at
    )


# ---------------------------------------------------------------------------- replies


@pytest.mark.parametrize("text", ["", None])
def test_nothing_normalizes_to_nothing(text):
    assert normalize_reply(text) == ""


def test_a_reply_that_is_no_keyword_changes_nothing():
    Suppression.objects.create(mobile=N, source=Suppression.Source.STAFF)
    apply_reply_keywords([reply("好的，谢谢")])
    assert Suppression.objects.filter(mobile=N).exists()
    assert not Consent.objects.exists()


def test_a_sender_that_is_not_eleven_plain_digits_is_not_acted_on():
    """Even one that would read as a mobile number once normalised: ``⑬`` is ``(13)``."""
    apply_reply_keywords([reply("退订", mobile="⑬-800138000")])
    assert not Suppression.objects.exists()
    assert not Consent.objects.exists()


def test_a_reply_from_a_number_that_is_not_a_mobile_does_not_stop_the_others():
    apply_reply_keywords([reply("退订", mobile="12345678901"), reply("TD", mobile=N)])
    assert list(Suppression.objects.values_list("mobile", flat=True)) == [N]


def test_an_opt_out_reply_s_cause_and_note_keep_its_first_200_characters():
    text = "退订。" + "不要再发了" * 60
    apply_reply_keywords([reply(text)])
    assert Suppression.objects.get().cause == text[:200]
    assert Consent.objects.get().note == text[:200]


def test_an_opt_in_reply_takes_the_number_back_from_the_start_of_its_second():
    Suppression.objects.create(mobile=N, source=Suppression.Source.REPLY)
    got = []

    def back(sender, **kwargs):
        got.append((kwargs["mobile"], kwargs["reply"]))

    signals.opted_in.connect(back)
    try:
        answer = reply("订阅")
        apply_reply_keywords([answer])
    finally:
        signals.opted_in.disconnect(back)
    assert got == [(N, answer)]
    grant = Consent.objects.get()
    assert (grant.granted, grant.at, grant.reply) == (True, T0, answer)


# ---------------------------------------------------------------------------- pricing


@pytest.fixture
def own_account(settings):
    """``mkt`` differs from ``default`` in every setting an estimate reads."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1"},
            "mkt": {
                "BACKEND": LOCMEM,
                "USERNAME": "M1",
                "SIGNATURE": "【商城】",
                "PART_LENGTHS": (10, 8),
                "PRICE_PER_PART": "0.05",
                "MARKETING_FOOTER": "拒收请回复R",
            },
        },
    }


def test_an_estimate_on_an_account_is_by_that_account_s_settings(own_account):
    found = estimate([N, M], "新品上市", kind="marketing", account="mkt")
    text = "新品上市拒收请回复R"  # 10 characters, 14 with the signature: 2 parts of 8
    assert found == Estimate(
        numbers=2, parts=2, total_parts=4, cost=Decimal("0.20"), text=text, characters=14
    )
    plain = estimate(N, "新品上市", account="mkt")
    assert plain == Estimate(
        numbers=1, parts=1, total_parts=1, cost=Decimal("0.05"), text="新品上市", characters=8
    )


def test_an_estimate_without_content_is_of_the_signature_alone(own_account):
    assert estimate(N, account="mkt") == Estimate(
        numbers=1, parts=1, total_parts=1, cost=Decimal("0.05"), text="", characters=4
    )


def test_an_estimate_of_a_template_is_of_its_rendered_text():
    template = Template.objects.create(
        template_id="JSM40001-0001", name="code", body="尊敬的@1@,您的验证码为@2@"
    )
    found = estimate([N, M], template=template, params=["张三", "123456"])
    assert found == Estimate(
        numbers=2,
        parts=1,
        total_parts=2,
        cost=Decimal("0.2"),
        text="尊敬的张三,您的验证码为123456",
        characters=18,
    )


# ----------------------------------------------------------------------------- footer


def test_a_marketing_template_without_a_footer_is_refused_in_these_words():
    bare = Template(template_id="M-1", name="promo", body="@1@折")
    with pytest.raises(MissingOptOutFooterError) as refused:
        check_template_footer(bare)
    assert str(refused.value) == (
        "template M-1 has no opt-out footer (such as 回T退订); a marketing template must "
        "have one, and a registered template cannot be changed"
    )
    check_template_footer(Template(template_id="M-2", name="promo", body="@1@折，回T退订"))
