"""The admin's writes, each through its service function: a set-aside journal entry
given back to the poll, blocked words disabled and enabled, a campaign created from an
upload. What each write does, whether from the admin or called directly."""

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import policy, polling, send_sms
from django_xunchen.models import BlockedWord, Campaign, Message, PollJournalEntry
from django_xunchen.policy.words import learned_words, set_blocked_words_active
from django_xunchen.polling.journal import retry_set_aside

pytestmark = pytest.mark.django_db
JOURNAL = reverse("admin:django_xunchen_polljournalentry_changelist")
WORDS = reverse("admin:django_xunchen_blockedword_changelist")
State = PollJournalEntry.State


def entry(state, attempts):
    return PollJournalEntry.objects.create(
        operation="queryReport",
        body=b"<html>502</html>",
        fetched_at=timezone.now(),
        state=state,
        attempts=attempts,
    )


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_retry_gives_only_the_set_aside_entries_back_to_the_poll(admin_client):
    aside, pending, done = entry(State.SET_ASIDE, 5), entry(State.PENDING, 2), entry(State.DONE, 1)
    response = admin_client.post(
        JOURNAL, {"action": "retry_ingest", "_selected_action": [aside.pk, pending.pk, done.pk]}
    )
    assert shown(response) == ["1 entry will be ingested again by the next poll."]
    states = dict(PollJournalEntry.objects.values_list("pk", "state"))
    attempts = dict(PollJournalEntry.objects.values_list("pk", "attempts"))
    assert states == {aside.pk: "pending", pending.pk: "pending", done.pk: "done"}
    assert attempts == {aside.pk: 0, pending.pk: 2, done.pk: 1}


def test_retry_with_nothing_set_aside_says_so(admin_client):
    done = entry(State.DONE, 1)
    response = admin_client.post(JOURNAL, {"action": "retry_ingest", "_selected_action": [done.pk]})
    assert shown(response) == ["0 entries will be ingested again by the next poll."]
    assert PollJournalEntry.objects.get().state == "done"


def test_retry_set_aside_keeps_to_the_entries_it_is_given():
    first, second = entry(State.SET_ASIDE, 3), entry(State.SET_ASIDE, 3)
    assert retry_set_aside(PollJournalEntry.objects.filter(pk=first.pk)) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.attempts) == ("pending", 0)
    assert (second.state, second.attempts) == ("set_aside", 3)
    assert polling.retry_set_aside is retry_set_aside


def test_staff_disable_and_enable_learned_words(admin_client):
    word = BlockedWord.objects.create(word="发票")
    other = BlockedWord.objects.create(word="代开")
    admin_client.post(WORDS, {"action": "disable", "_selected_action": [word.pk]})
    assert learned_words("default") == ["代开"]
    admin_client.post(WORDS, {"action": "enable", "_selected_action": [word.pk]})
    assert sorted(learned_words("default")) == ["代开", "发票"]
    assert BlockedWord.objects.get(pk=other.pk).is_active


def test_set_blocked_words_active_counts_what_it_wrote():
    BlockedWord.objects.create(word="发票")
    BlockedWord.objects.create(word="代开", account="other")
    assert set_blocked_words_active(BlockedWord.objects.filter(account="other"), False) == 1
    assert learned_words("other") == [] and learned_words("default") == ["发票"]
    assert policy.set_blocked_words_active is set_blocked_words_active


@pytest.mark.django_db(transaction=True)
def test_a_campaign_whose_text_is_refused_is_a_form_error_and_writes_nothing(admin_client):
    """Staging refuses a text with a learned word: the upload form shows why, and no
    campaign is written (a refusal comes before any write)."""
    BlockedWord.objects.create(word="发票")
    response = admin_client.post(
        reverse("admin:django_xunchen_campaign_add"),
        {
            "name": "开票",
            "kind": "notification",
            "account": "default",
            "content": "您的发票已开具",
            "file": SimpleUploadedFile("a.csv", b"13800138000\n", "text/csv"),
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["__all__"] == ["The text has words the gateway refused before: 发票"]
    assert not Campaign.objects.exists()


def test_the_number_column_staff_choose_is_the_one_staged(admin_client):
    response = admin_client.post(
        reverse("admin:django_xunchen_campaign_add"),
        {
            "name": "第二列",
            "kind": "notification",
            "account": "default",
            "content": "您好",
            "number_column": "2",
            "file": SimpleUploadedFile("a.csv", b"13800138000,13900139000\n", "text/csv"),
        },
    )
    assert response.status_code == 302
    (recipient,) = Campaign.objects.get().recipients.all()
    assert recipient.mobile == "13900139000"


WRITE_SQL = ("INSERT", "UPDATE", "DELETE")


def writes(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return [q["sql"][:80] for q in queries if q["sql"].lstrip().upper().startswith(WRITE_SQL)]


def test_the_pages_that_only_show_write_nothing(admin_client, template, xunchen_outbox):
    send_sms(["13800138000", "13900139000"], "您的订单已发货")
    noon = timezone.localtime().replace(hour=12, minute=30, second=0, microsecond=0)
    dashboard = reverse("admin:django_xunchen_message_dashboard")
    with time_machine.travel(noon, tick=True):
        admin_client.get(dashboard)  # may roll up the days no poll has (operations.rollup)
        for url in [
            dashboard,
            reverse("admin:django_xunchen_message_balance"),
            reverse("admin:django_xunchen_message_send"),
            reverse("admin:django_xunchen_message_changelist"),
            reverse("admin:django_xunchen_message_change", args=[Message.objects.first().pk]),
            reverse("admin:django_xunchen_template_change", args=[template.pk]),
        ]:
            assert writes(admin_client, url) == [], url
