"""A large campaign file: the upload only stores it; a task (or cron's send_queued) checks
it batch by batch, with its progress on the campaign page; all or nothing."""

import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import campaigns
from django_xunchen.campaigns import checking, staging
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.models import Campaign, CampaignFileChunk, CampaignRecipient
from django_xunchen.tasks import check_campaign_file, tick

from .test_campaigns import block_django_tasks, gbk_file, make

pytestmark = pytest.mark.django_db(transaction=True)
DUMMY = f"{settings.TASKS_MODULE}.backends.dummy.DummyBackend"


@pytest.fixture
def background(settings):
    """Every file is checked in the background."""
    settings.XUNCHEN = {**settings.XUNCHEN, "CAMPAIGN_BACKGROUND_FROM_ROWS": 1}


@pytest.fixture
def dummy(settings):
    """A task backend that keeps tasks instead of running them."""
    settings.TASKS = {"default": {"BACKEND": DUMMY, "QUEUES": ["default", "sms-codes"]}}
    from django_xunchen.tasks import task_backends

    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


def checks_enqueued(backend):
    return [r.args[0] for r in backend.results if r.task.name == "check_campaign_file"]


def upload(file=None, name="名单.csv", **kwargs):
    return campaigns.create_draft(make(), file or gbk_file(), name, **kwargs)


def staged_inline():
    """What the same file gives when staged in the request."""
    campaign = campaigns.stage(make(name="inline"), gbk_file(), "名单.csv")
    rows = list(campaign.recipients.values_list("row", "mobile", "problem", "params"))
    figures = (campaign.rows, campaign.valid, campaign.total_parts, campaign.param_columns)
    campaign.delete()
    return rows, figures


def test_a_large_file_is_only_stored_and_a_task_checks_it(background, dummy):
    expected_rows, expected_figures = staged_inline()
    campaign = upload()
    assert campaign.state == "checking" and campaign.file_rows == 10
    assert not CampaignRecipient.objects.exists(), "nothing checked in the request"
    stored = b"".join(bytes(c) for c in campaign.chunks.values_list("data", flat=True))
    assert stored == gbk_file().getvalue()
    assert checks_enqueued(dummy) == [campaign.pk]
    with pytest.raises(CampaignError, match="still being checked"):
        campaigns.confirm(campaign)

    assert check_campaign_file.call(campaign.pk) == "checked"
    campaign.refresh_from_db()
    assert campaign.state == "draft" and campaign.check_error == ""
    assert (campaign.rows, campaign.valid, campaign.total_parts, campaign.param_columns) == (
        expected_figures
    )
    assert campaign.checked_rows == campaign.file_rows == 10
    rows = list(campaign.recipients.values_list("row", "mobile", "problem", "params"))
    assert rows == expected_rows, "the same rows as a check in the request"
    assert not CampaignFileChunk.objects.exists(), "the file is gone once checked"
    assert check_campaign_file.call(campaign.pk) == "", "a second task finds nothing to do"


def test_below_the_threshold_the_file_is_checked_in_the_request(settings, dummy):
    settings.XUNCHEN = {**settings.XUNCHEN, "CAMPAIGN_BACKGROUND_FROM_ROWS": 11}
    campaign = upload()
    assert campaign.state == "draft" and campaign.valid == 3
    assert not checks_enqueued(dummy) and not CampaignFileChunk.objects.exists()


@pytest.mark.parametrize("engine", ["immediate", "none"])
def test_without_a_deferring_task_engine_cron_s_send_queued_checks_it(
    engine, background, monkeypatch
):
    """Django's ImmediateBackend would check the file in the upload's request: it is
    left to cron, as where no task framework is installed."""
    if engine == "none":
        block_django_tasks(monkeypatch)
    campaign = upload()
    assert Campaign.objects.get().state == "checking"
    out = io.StringIO()
    call_command("send_queued", stdout=out)
    assert "campaign files checked 1" in out.getvalue()
    campaign.refresh_from_db()
    assert campaign.state == "draft" and campaign.valid == 3


def test_the_progress_is_committed_batch_by_batch(background, dummy, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    seen = []
    store = staging.store

    def watching(batch):
        store(batch)
        seen.append(Campaign.objects.values_list("checked_rows", flat=True).get())

    monkeypatch.setattr(checking, "store", watching)
    campaign = upload()
    assert check_campaign_file.call(campaign.pk) == "checked"
    assert seen == [5, 7, 10], "rows read when each batch of two rows was stored"


def test_the_campaign_page_shows_the_check_and_writes_nothing(background, dummy, admin_client):
    campaign = upload()
    Campaign.objects.filter(pk=campaign.pk).update(checked_rows=4)
    page_url = reverse("admin:django_xunchen_campaign_change", args=[campaign.pk])
    json_url = reverse("admin:django_xunchen_campaign_progress", args=[campaign.pk])
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(page_url).content.decode()
        data = admin_client.get(json_url).json()
    assert 'id="campaign-check"' in page and 'id="check-done">4<' in page
    assert 'id="check-total">10<' in page and "campaign-confirm" not in page
    assert data["state"] == "checking"
    assert data["check"] == {"done": 4, "total": 10, "percent": 40, "error": ""}
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "django_session" not in q["sql"]
    ]
    assert writes == [], "a page that only shows never writes"
    assert Campaign.objects.get().state == "checking", "the check moves only by its task"


def test_a_file_refused_half_way_leaves_no_row(background, dummy, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    lines = ["手机号码,姓名"] + [f"1380013800{i},张{i}" for i in range(8)]
    lines[7] = "13800138099," + "长" * 40000  # Excel's cells hold at most 32,767
    campaign = upload(io.BytesIO("\r\n".join(lines).encode()), "a.csv")
    assert check_campaign_file.call(campaign.pk) == "refused"
    campaign.refresh_from_db()
    assert campaign.state == "draft" and "Row 8" in campaign.check_error
    assert (campaign.rows, campaign.valid) == (0, 0)
    assert not CampaignRecipient.objects.exists(), "the batches stored before are deleted"
    assert not CampaignFileChunk.objects.exists()


def test_a_check_whose_worker_died_is_handed_over_and_started_again(
    background, dummy, xunchen_outbox
):
    campaign = upload()
    dummy.clear()  # the upload's task was lost with its worker
    # Another worker claimed it, stored a row and died: its heartbeat is old.
    old = timezone.now() - dt.timedelta(seconds=checking.STALE_AFTER + 1)
    Campaign.objects.filter(pk=campaign.pk).update(check_claim="dead", check_heartbeat=old)
    CampaignRecipient.objects.create(campaign=campaign, row=4, mobile="13800138000")
    tick.call()
    assert checks_enqueued(dummy) == [campaign.pk], "the tick gives it to a new task"
    assert Campaign.objects.get().check_claim == ""
    tick.call()
    assert checks_enqueued(dummy) == [campaign.pk], "and leaves it to that task"
    assert check_campaign_file.call(campaign.pk) == "checked"
    assert Campaign.objects.get().valid == 3
    assert CampaignRecipient.objects.filter(row=4).count() == 1, "the dead try's row is gone"


def test_a_live_check_is_not_taken_over(background, dummy):
    campaign = upload()
    Campaign.objects.filter(pk=campaign.pk).update(
        check_claim="alive", check_heartbeat=timezone.now()
    )
    assert check_campaign_file.call(campaign.pk) == ""
    assert checking.check_waiting() == 0 and checking.hand_over() == []


def test_a_check_taken_over_meanwhile_stores_nothing_more(background, dummy, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    store = staging.store

    def taken_over(batch):
        store(batch)
        Campaign.objects.update(check_claim="another")

    monkeypatch.setattr(checking, "store", taken_over)
    campaign = upload()
    assert check_campaign_file.call(campaign.pk) == "lost"
    assert CampaignRecipient.objects.count() == 2, "one batch, then it stopped"
    assert Campaign.objects.get().state == "checking", "the other process finishes it"


def test_cancelling_a_check_stops_it_and_deletes_what_it_stored(background, dummy, monkeypatch):
    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    store = staging.store

    def cancelled(batch):
        store(batch)
        if CampaignRecipient.objects.count() == 2:
            campaigns.cancel(Campaign.objects.get())

    monkeypatch.setattr(checking, "store", cancelled)
    campaign = upload()
    with pytest.raises(CampaignError, match="cannot be paused"):
        campaigns.pause(campaign)
    assert check_campaign_file.call(campaign.pk) == "lost"
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    assert not CampaignRecipient.objects.exists() and not CampaignFileChunk.objects.exists()


def test_a_stop_signal_gives_the_check_up_for_another_process(background, dummy, monkeypatch):
    from django_xunchen import stopping

    monkeypatch.setattr(staging, "STAGE_BATCH", 2)
    monkeypatch.setattr(stopping, "_received", [])
    store = staging.store

    def signalled(batch):
        store(batch)
        stopping.request()

    monkeypatch.setattr(checking, "store", signalled)
    campaign = upload()
    assert check_campaign_file.call(campaign.pk) == "stopped"
    assert not CampaignRecipient.objects.exists()
    assert Campaign.objects.get().check_claim == "", "claimable at once"
    monkeypatch.setattr(checking, "store", store)
    stopping._received.clear()
    assert check_campaign_file.call(campaign.pk) == "checked"


def test_the_threshold_setting_is_checked(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.XUNCHEN = {**settings.XUNCHEN, "CAMPAIGN_BACKGROUND_FROM_ROWS": "many"}
    with pytest.raises(ImproperlyConfigured, match="CAMPAIGN_BACKGROUND_FROM_ROWS"):
        upload()


def test_the_first_rows_table_answers_as_a_dict_would():
    """Duplicates are found with a packed table (16 MB for 1,000,000 numbers, where a
    dict takes about 120 MB): the same answers as a dict, through its growths, for
    numbers spread at random and for numbers spaced to collide in a small table."""
    import random

    table, expected = staging.FirstRows(), {}
    draw = random.Random(28)
    numbers = [draw.randrange(13000000000, 13000050000) for _ in range(40000)]
    numbers += [13800000000 + i * 1024 for i in range(5000)]
    for row, number in enumerate(numbers, start=1):
        first = expected.setdefault(number, row)
        assert table.first(number, row) == (None if first == row else first)
    assert table.count == len(expected) and len(table.slots) >= 2 * table.count
    with pytest.raises(OverflowError):
        table.first(13900000000, 1 << staging.FirstRows.ROW_BITS)
