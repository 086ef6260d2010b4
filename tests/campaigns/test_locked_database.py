"""SQLite answers "database is locked" when another process (a worker sending the
campaign) holds the write lock past the timeout: a campaign's steps are run again, and if
the lock still holds, staff read why and nothing changed; never a server error."""

import pytest
from django.db import OperationalError
from django.urls import reverse

from django_xunchen import campaigns
from django_xunchen.campaigns import lifecycle
from django_xunchen.db import retry_when_locked
from django_xunchen.models import Campaign, Message

from .test_campaigns import DUMMY_TASKS, gbk_file, make

pytestmark = pytest.mark.django_db(transaction=True)


class Locked:
    """Stands in for ``_locked``: refuses ``times`` times as SQLite does, then locks."""

    def __init__(self, times, error="database is locked"):
        self.times, self.error, self.calls = times, error, 0
        self.real = lifecycle._locked

    def __call__(self, *args):
        self.calls += 1
        if self.calls <= self.times:
            raise OperationalError(self.error)
        return self.real(*args)


@pytest.fixture
def running(settings):
    settings.TASKS = DUMMY_TASKS
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    campaigns.confirm(campaign)
    return campaign


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr("django_xunchen.db.time.sleep", lambda seconds: None)


def step(client, campaign, name):
    url = reverse("admin:django_xunchen_campaign_step", args=[campaign.pk, name])
    return client.post(url, follow=True)


@pytest.mark.parametrize("name", ["pause", "cancel"])
def test_a_lock_that_passes_is_waited_out(name, running, admin_client, monkeypatch):
    locked = Locked(times=2)
    monkeypatch.setattr(lifecycle, "_locked", locked)
    response = step(admin_client, running, name)
    assert response.status_code == 200 and locked.calls == 3
    assert Campaign.objects.get().state == {"pause": "paused", "cancel": "cancelled"}[name]


@pytest.mark.parametrize("name", ["pause", "resume", "cancel"])
def test_a_lock_that_holds_is_an_answer_and_changes_nothing(
    name, running, admin_client, monkeypatch
):
    if name == "resume":
        campaigns.pause(running)
    before = Campaign.objects.get().state
    monkeypatch.setattr(lifecycle, "_locked", Locked(times=99))
    response = step(admin_client, running, name)
    assert response.status_code == 200
    assert "The database is busy: nothing was changed." in response.content.decode()
    assert Campaign.objects.get().state == before
    assert set(Message.objects.values_list("status", flat=True)) == {"queued"}


def test_other_database_errors_are_not_retried(running, monkeypatch):
    locked = Locked(times=1, error="no such table: x")
    monkeypatch.setattr(lifecycle, "_locked", locked)
    with pytest.raises(OperationalError, match="no such table"):
        campaigns.pause(running)
    assert locked.calls == 1


def test_inside_a_transaction_a_lock_is_not_retried():
    from django.db import transaction

    calls = []

    @retry_when_locked()
    def write():
        calls.append(1)
        raise OperationalError("database is locked")

    with pytest.raises(OperationalError), transaction.atomic():
        write()
    assert calls == [1], "the transaction failed: running again could not help"
