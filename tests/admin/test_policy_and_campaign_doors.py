"""The doors the report found open or shut wrongly, each on its own: staff who may only
look at blocked words cannot disable or enable them; the campaign permissions do what
the docs say (add alone: one's own upload and its check; send alone: see and confirm).
:mod:`tests.admin.test_admin_doors` tries every door with every permission."""

import pytest
from django.urls import reverse

from django_xunchen.models import BlockedWord, Campaign, CampaignRecipient, Message

from .conftest import _staff

pytestmark = pytest.mark.django_db
WORDS = reverse("admin:django_xunchen_blockedword_changelist")


def offered(response) -> set[str]:
    form = response.context["action_form"]
    return set(dict(form.fields["action"].choices)) if form else set()


@pytest.mark.parametrize("action, active", [("disable", True), ("enable", False)])
def test_staff_who_may_only_look_cannot_disable_or_enable_a_word(client, action, active):
    word = BlockedWord.objects.create(word="发票", is_active=active)
    client.force_login(_staff("looker", "view_blockedword"))
    listing = client.get(WORDS)
    assert listing.status_code == 200 and action not in offered(listing)
    response = client.post(WORDS, {"action": action, "_selected_action": [word.pk]})
    assert response.status_code in (200, 302), "the list again: no action it may run"
    assert BlockedWord.objects.get().is_active is active


@pytest.mark.parametrize("action, active", [("disable", True), ("enable", False)])
def test_staff_who_may_change_words_disable_and_enable_them(client, action, active):
    word = BlockedWord.objects.create(word="发票", is_active=active)
    client.force_login(_staff("changer", "change_blockedword"))
    assert action in offered(client.get(WORDS))
    client.post(WORDS, {"action": action, "_selected_action": [word.pk]})
    assert BlockedWord.objects.get().is_active is not active


def campaign_of(user) -> Campaign:
    campaign = Campaign.objects.create(
        name="双十一", kind="notification", content="您好", created_by=user
    )
    CampaignRecipient.objects.create(campaign=campaign, row=1, mobile="13800138000", parts=1)
    CampaignRecipient.objects.create(
        campaign=campaign, row=2, mobile="123", problem="invalid", detail="x"
    )
    Campaign.objects.filter(pk=campaign.pk).update(rows=2, valid=1, total_parts=1)
    return Campaign.objects.get(pk=campaign.pk)


def page(campaign, name="change", *extra):
    return reverse(f"admin:django_xunchen_campaign_{name}", args=[campaign.pk, *extra])


def test_add_alone_sees_the_check_of_its_own_upload_and_nobody_elses(client):
    maker = _staff("maker", "add_campaign")
    other = _staff("other", "add_campaign")
    mine, theirs = campaign_of(maker), campaign_of(other)
    client.force_login(maker)
    response = client.get(page(mine))
    text = response.content.decode()
    assert response.status_code == 200
    assert "campaign-estimate" in text and "campaign-problems" in text
    assert "campaign-confirm" not in text
    assert client.get(page(mine, "problems")).status_code == 200
    assert client.get(page(mine, "progress")).status_code == 200
    listing = client.get(reverse("admin:django_xunchen_campaign_changelist"))
    assert [c.pk for c in listing.context["cl"].result_list] == [mine.pk]
    for name in ("change", "problems", "progress"):
        assert client.get(page(theirs, name)).status_code == 403, name
    assert client.post(page(mine, "step", "confirm")).status_code == 403
    assert not Message.objects.exists()


def test_send_alone_sees_the_check_and_confirms(client, xunchen_outbox):
    campaign = campaign_of(_staff("maker", "add_campaign"))
    client.force_login(_staff("sender", "send_campaign"))
    text = client.get(page(campaign)).content.decode()
    assert "campaign-estimate" in text and "campaign-confirm" in text
    assert client.get(page(campaign, "problems")).status_code == 200
    assert client.post(page(campaign, "step", "confirm")).status_code == 302
    assert Campaign.objects.get().state != Campaign.State.DRAFT
    assert Message.objects.filter(campaign=campaign).count() == 1
