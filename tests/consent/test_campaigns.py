"""A campaign on an account that requires consent: rows without it are a problem of
their own, left out of the estimate and never written as messages to send."""

import io

import pytest

from django_xunchen import campaigns, send_queued
from django_xunchen.consent import grant_consent
from django_xunchen.models import Campaign, CampaignRecipient, Message

pytestmark = pytest.mark.django_db(transaction=True)


def stage(settings, required):
    settings.XUNCHEN = {**settings.XUNCHEN, "REQUIRE_CONSENT": required}
    grant_consent("13800138000")
    campaign = Campaign.objects.create(name="双十二", kind="marketing", content="会员日五折")
    rows = "手机号码\r\n13800138000\r\n13900139000\r\n"
    return campaigns.stage(campaign, io.BytesIO(rows.encode()), "a.csv")


def test_rows_without_consent_are_a_problem_and_out_of_the_estimate(settings, xunchen_outbox):
    campaign = stage(settings, required=True)
    (problem,) = campaigns.problems(campaign)
    assert (problem.mobile, problem.problem) == (
        "13900139000",
        CampaignRecipient.Problem.NO_CONSENT,
    )
    assert problem.detail_text() == "No current consent to marketing: the account requires it."
    estimate = campaigns.estimate(campaign, with_balance=False)
    assert (estimate.rows, estimate.valid, estimate.problems) == (2, 1, 1)
    campaigns.confirm(campaign)
    send_queued()
    assert list(Message.objects.values_list("mobile", "status")) == [("13800138000", "sent")]


def test_without_require_consent_every_row_is_valid(settings, xunchen_outbox):
    campaign = stage(settings, required=False)
    assert not list(campaigns.problems(campaign)) and campaign.valid == 2
