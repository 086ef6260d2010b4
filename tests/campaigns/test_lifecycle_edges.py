"""A campaign's confirm, pause, resume and cancel, at their edges: which messages are
handed to the workers (those due now, of this campaign, none held), what each message
carries (the campaign's account, template and parameters, its parts, its tag and
metadata), the refusals staff read word for word, the monthly cap counted across the
confirm's batches, and that a step on one campaign never touches another's messages."""

import datetime as dt
import io

import pytest
import time_machine
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import campaigns
from django_xunchen.campaigns import lifecycle
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Campaign, Message, Template
from django_xunchen.tasks import task_backends

from .test_campaigns import DUMMY_TASKS

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
NUMBERS = ["13800138000", "13900139000", "13700137000"]
#: Mid-month, midday in Beijing: outside quiet hours, and the month's spend is this month's.
NOON = dt.datetime(2026, 12, 15, 12, 0, tzinfo=CHINA_TZ)


@pytest.fixture
def accounts(settings):
    """``default`` at 0.1 a part, no quiet hours; ``marketing`` at 0.05 a part, quiet
    21:00–08:00 China time."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "USERNAME": "N1", "PRICE_PER_PART": "0.1"},
            "marketing": {
                "BACKEND": LOCMEM,
                "USERNAME": "M1",
                "PRICE_PER_PART": "0.05",
                "QUIET_HOURS": ("21:00", "08:00"),
            },
        },
        "USERNAME": "",
        "PASSWORD": "",
        "VERY_CODE": "",
    }


@pytest.fixture
def workers(settings):
    """A task engine that defers: what the confirm hands to workers is kept, not run."""
    settings.TASKS = DUMMY_TASKS
    task_backends["default"].clear()


def handed_to_workers():
    """The ids of the messages the send tasks enqueued so far were given."""
    tasks = task_backends["default"].results
    return sorted(pk for t in tasks if t.task.name == "send_messages" for pk in t.args[0])


def stage(numbers=NUMBERS, content="@1@您好，会员日全场五折", **fields):
    values = {"name": "双十二", "kind": "notification", "content": content, **fields}
    campaign = Campaign.objects.create(**values)
    body = "".join(f"{n},客户{i}\n" for i, n in enumerate(numbers, 1)).encode()
    return campaigns.stage(campaign, io.BytesIO(body), "a.csv")


def messages_of(campaign):
    return Message.objects.filter(campaign=campaign).order_by("mobile")


# ------------------------------------------------------------------ what goes to workers


@pytest.mark.parametrize(
    ("fields", "state", "held"),
    [
        ({}, "running", None),
        ({"send_at": NOON}, "running", None),
        ({"send_at": NOON - dt.timedelta(hours=1)}, "running", None),
        ({"send_at": NOON + dt.timedelta(seconds=1)}, "scheduled", NOON + dt.timedelta(seconds=1)),
        (
            {"kind": "marketing", "account": "marketing", "content": "@1@您好 拒收请回复R"},
            "running",
            NOON.replace(hour=8) + dt.timedelta(days=1),
        ),
    ],
    ids=["now", "send_at is now", "send_at passed", "send_at ahead", "quiet hours"],
)
def test_the_confirm_hands_workers_the_campaign_s_messages_due_now(
    fields, state, held, accounts, workers, xunchen_outbox
):
    """The quiet hours are the campaign's account's (``marketing``, 21:00–08:00; the
    confirm is at 22:00 there), not the default account's (none)."""
    at = NOON.replace(hour=22) if "kind" in fields else NOON
    Message.objects.create(mobile="13300133000", content="不是活动的", status=S.QUEUED)
    with time_machine.travel(at, tick=False):
        campaign = stage(**fields)
        assert campaigns.confirm(campaign) == 3
    campaign.refresh_from_db()
    assert campaign.state == state
    assert set(messages_of(campaign).values_list("status", "hold_until")) == {(S.QUEUED, held)}
    ids = sorted(messages_of(campaign).values_list("pk", flat=True))
    assert handed_to_workers() == (ids if held is None else [])
    assert not xunchen_outbox, "the workers send them, not the confirm"


def test_the_workers_get_the_rows_in_one_read(accounts, workers):
    """The rows handed to workers are read with their id, kind and status at once: no
    query per row, however many rows."""
    campaign = stage()
    table = Message._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        campaigns.confirm(campaign)
    reads = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]
    assert len(reads) == 1, reads
    assert len(handed_to_workers()) == 3


# ------------------------------------------------------------------ what each message carries


def test_each_message_carries_the_campaign_s_account_template_parameters_tag_and_metadata(
    accounts, workers
):
    template = Template.objects.create(
        account="marketing", template_id="M-1", name="发货", body="@1@您好，您的@2@已发货"
    )
    campaign = Campaign.objects.create(
        name="发货通知", kind="notification", account="marketing", template=template
    )
    body = "13800138000,张三,快递\n13900139000,李四,包裹\n".encode()
    campaign = campaigns.stage(campaign, io.BytesIO(body), "a.csv")
    campaigns.confirm(campaign)
    rows = messages_of(campaign)
    assert [(m.mobile, m.account, m.template_id, m.params, m.content, m.parts) for m in rows] == [
        (
            "13800138000",
            "marketing",
            template.pk,
            {"1": "张三", "2": "快递"},
            "张三您好，您的快递已发货",
            1,
        ),
        (
            "13900139000",
            "marketing",
            template.pk,
            {"1": "李四", "2": "包裹"},
            "李四您好，您的包裹已发货",
            1,
        ),
    ]
    assert {(tuple(m.tags), tuple(m.metadata.items())) for m in rows} == {
        ((f"campaign:{campaign.pk}",), (("campaign", campaign.pk),))
    }


@pytest.mark.parametrize("kind", ["notification", "marketing"])
def test_a_long_text_is_billed_in_all_its_parts(kind, accounts, workers):
    """The same text for every row (no @n@): each message is as many parts as the text
    takes, 70 characters for one and 67 a part beyond."""
    text = "会员日全场五折，" * 10 + ("拒收请回复R" if kind == "marketing" else "")
    campaign = stage(content=text, kind=kind)
    campaigns.confirm(campaign)
    assert [(m.content, m.parts) for m in messages_of(campaign)] == [(text, 2)] * 3
    assert Campaign.objects.get().total_parts == 6


def test_a_row_is_linked_to_its_campaign_s_message_whatever_the_number_s_other_messages(
    accounts, workers
):
    """The number's newest message is another's (written by a host whose clock runs five
    minutes ahead): the row still points at this campaign's message."""
    with time_machine.travel(NOON + dt.timedelta(minutes=5), tick=False):
        ahead = Message.objects.create(mobile=NUMBERS[0], content="另一台机器写的")
    with time_machine.travel(NOON, tick=False):
        campaign = stage()
        campaigns.confirm(campaign)
    row = campaign.recipients.get(mobile=NUMBERS[0])
    assert row.message_id != ahead.pk
    assert (row.message.campaign_id, row.message.mobile) == (campaign.pk, NUMBERS[0])


# ------------------------------------------------------------------ refusals


def test_a_campaign_whose_file_is_being_checked_cannot_be_confirmed():
    campaign = Campaign.objects.create(name="大名单", content="您好", state=Campaign.State.CHECKING)
    with pytest.raises(CampaignError) as refused:
        campaigns.confirm(campaign)
    assert str(refused.value) == "The file is still being checked."


def test_a_campaign_is_confirmed_once(accounts, workers):
    campaign = stage()
    campaigns.confirm(campaign)
    with pytest.raises(CampaignError) as refused:
        campaigns.confirm(campaign)
    assert str(refused.value) == "The campaign was already confirmed."
    assert messages_of(campaign).count() == 3


def test_a_campaign_without_a_valid_row_cannot_be_confirmed():
    campaign = stage(["12345", "1.38E+10"])
    assert campaign.valid == 0
    with pytest.raises(CampaignError) as refused:
        campaigns.confirm(campaign)
    assert str(refused.value) == "The campaign has no valid rows."
    assert Campaign.objects.get().state == "draft" and not Message.objects.exists()


def test_the_monthly_cap_counts_the_whole_campaign_across_its_batches(
    accounts, settings, monkeypatch
):
    """``marketing``: 0.05 a part, a cap of 1, 0.90 spent. Each batch of one row fits
    under the cap; the three rows (0.15) do not: refused, in words for staff, with the
    cost at the campaign's account's price and nothing written."""
    settings.XUNCHEN["ACCOUNTS"]["marketing"]["MONTHLY_CAP"] = "1"
    monkeypatch.setattr(lifecycle, "CONFIRM_BATCH", 1)
    with time_machine.travel(NOON, tick=False):
        Message.objects.create(
            mobile="13300133000",
            content="早先的",
            account="marketing",
            parts=18,
            status=S.DELIVERED,
        )
        campaign = stage(account="marketing")
        with pytest.raises(CampaignError) as refused:
            campaigns.confirm(campaign)
    assert str(refused.value) == (
        "The campaign would take account marketing over its monthly spending cap of 1: it "
        "has spent 0.90 this month, and the campaign costs up to 0.15. Nothing was written; "
        "the campaign is still a draft."
    )
    assert Campaign.objects.get().state == "draft"
    assert not Message.objects.filter(campaign=campaign).exists()


def test_the_month_s_spend_is_read_once_for_all_the_batches(
    accounts, workers, settings, monkeypatch
):
    """A capped account's month is read (the rollup) at the first batch; each batch
    admitted is added to it, not read again: three batches, one read."""
    from django_xunchen.models import DailyFigure

    settings.XUNCHEN["ACCOUNTS"]["marketing"]["MONTHLY_CAP"] = "100"
    monkeypatch.setattr(lifecycle, "CONFIRM_BATCH", 1)
    table = DailyFigure._meta.db_table
    with time_machine.travel(NOON, tick=False):
        campaign = stage(account="marketing")
        with CaptureQueriesContext(connection) as queries:
            assert campaigns.confirm(campaign) == 3
    reads = [
        q
        for q in queries
        if q["sql"].lstrip().startswith("SELECT") and f'FROM "{table}"' in q["sql"]
    ]
    assert len(reads) == 1


def test_a_campaign_s_messages_are_written_a_batch_at_a_time(accounts, workers, monkeypatch):
    """``CONFIRM_BATCH`` rows are built and written at a time: five rows, two a batch,
    three writes."""
    monkeypatch.setattr(lifecycle, "CONFIRM_BATCH", 2)
    campaign = stage([*NUMBERS, "13600136000", "13500135000"])
    table = Message._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        assert campaigns.confirm(campaign) == 5
    writes = [q for q in queries if q["sql"].lstrip().startswith(f'INSERT INTO "{table}"')]
    assert len(writes) == 3
    assert messages_of(campaign).count() == 5


# ------------------------------------------------------------------ one campaign, not another


def test_a_step_on_one_campaign_leaves_the_other_s_messages(accounts, workers):
    first, other = stage(name="第一"), stage(name="第二")
    campaigns.confirm(other)
    task_backends["default"].clear()
    campaigns.confirm(first)
    assert handed_to_workers() == sorted(messages_of(first).values_list("pk", flat=True))

    def others():
        return set(messages_of(other).values_list("status", "hold_until"))

    assert others() == {(S.QUEUED, None)}
    assert campaigns.pause(first) == 3
    assert others() == {(S.QUEUED, None)}, "not held"
    task_backends["default"].clear()
    assert campaigns.resume(first) == 3
    assert handed_to_workers() == sorted(messages_of(first).values_list("pk", flat=True))
    assert campaigns.cancel(first) == 3
    assert set(messages_of(first).values_list("status", flat=True)) == {S.CANCELLED}
    assert others() == {(S.QUEUED, None)}, "not cancelled"
    assert Campaign.objects.get(pk=other.pk).state == "running"


# ------------------------------------------------------------------ a locked database


def test_a_step_is_run_again_while_the_database_is_locked_then_answered(monkeypatch):
    """The steps are wrapped when the module is imported; wrapped here, a step that meets
    "database is locked" twice runs a third time, and one that always meets it is an
    answer for staff."""
    monkeypatch.setattr("django_xunchen.db.time.sleep", lambda seconds: None)
    calls = []

    def step(campaign, *, times):
        calls.append(campaign)
        if len(calls) <= times:
            raise OperationalError("database is locked")
        return 7

    wrapped = lifecycle._busy_is_an_answer(step)
    assert wrapped.__name__ == "step"
    assert wrapped("c", times=2) == 7 and calls == ["c"] * 3
    calls.clear()
    with pytest.raises(CampaignError) as refused:
        wrapped("c", times=999)
    assert str(refused.value) == "The database is busy: nothing was changed. Try again in a moment."


# ------------------------------------------------------------------ PostgreSQL's statistics


@pytest.mark.postgres_only
def test_a_large_confirm_gives_a_never_analysed_message_table_its_statistics(
    accounts, workers, monkeypatch
):
    """A new install's first large campaign: the message table is analysed in the
    confirm, so that what follows is planned on its size (large is 3 rows here)."""
    from django_xunchen import db

    monkeypatch.setattr(db, "ANALYZE_FROM", 3)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Message._meta.db_table)}")
    assert db.estimated_rows(Message) == 0
    campaigns.confirm(stage())
    assert db.estimated_rows(Message) == 3
