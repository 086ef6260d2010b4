"""A campaign's text refused before any row is read: what staff read, in English and in
Chinese, for a template switched off, a template of another account and no text at all."""

import pytest
from django.utils import translation

from django_xunchen import campaigns
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.models import Template

from .test_campaigns import gbk_file, make

pytestmark = pytest.mark.django_db(transaction=True)


def refusal(campaign, language):
    """The message staff read when ``campaign`` is checked, in ``language``."""
    with translation.override(language), pytest.raises(CampaignError) as refused:
        campaigns.check_campaign(campaign)
    return str(refused.value)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "The template T-9 is not active."), ("zh-hans", "模板 T-9 未启用。")],
)
def test_a_template_switched_off_is_refused_by_its_id(language, expected):
    template = Template.objects.create(template_id="T-9", name="t", body="@1@您好", is_active=False)
    assert refusal(make(template=template, content=""), language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "The template belongs to account marketing."),
        ("zh-hans", "该模板属于账号 marketing。"),
    ],
)
def test_a_template_of_another_account_is_refused_naming_that_account(
    language, expected, three_accounts
):
    template = Template.objects.create(
        account="marketing", template_id="T-10", name="t", body="@1@您好"
    )
    campaign = make(template=template, content="", account="default")
    assert refusal(campaign, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "Enter the text, or choose a template."), ("zh-hans", "请填写内容，或选择模板。")],
)
def test_a_campaign_without_text_or_template_is_refused(language, expected):
    assert refusal(make(content=" \n "), language) == expected


def test_staging_checks_the_text_before_reading_the_file():
    template = Template.objects.create(template_id="T-11", name="t", body="x", is_active=False)
    campaign = make(template=template, content="")
    with pytest.raises(CampaignError, match=r"^The template T-11 is not active\.$"):
        campaigns.stage(campaign, gbk_file(), "a.csv")
    assert not campaign.recipients.exists()
