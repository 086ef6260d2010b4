"""Campaigns: a spreadsheet checked row by row, then sent, paused, resumed or cancelled."""

import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import campaigns, send_queued
from django_xunchen.campaigns.spreadsheets import SpreadsheetError, csv_encoding, read_rows
from django_xunchen.campaigns.text import CampaignError
from django_xunchen.exceptions import MissingOptOutFooterError
from django_xunchen.models import BlockedWord, Campaign, Message, Suppression, Template

pytestmark = pytest.mark.django_db(transaction=True)
TASKS_MODULE = "django.tasks" if __import__("django").VERSION >= (6,) else "django_tasks"
#: A task engine that keeps the tasks and runs none (as a worker that has not come yet).
DUMMY_TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}}
FOOTER = "拒收请回复R"


def gbk_file():
    text = (
        "2026双十一会员名单\r\n"
        "\r\n"
        "手机号码,姓名\r\n"
        "13800138000,张三\r\n"
        "1.38E+10,李四\r\n"
        "+86 139-0013-9000,王五\r\n"
        "13800138000,张三again\r\n"
        "12345,赵六\r\n"
        ",\r\n"
        "13700137000,钱七\r\n"
    )
    return io.BytesIO(text.encode("gbk"))


def make(**kwargs):
    values = {"name": "双十一", "kind": "notification", "content": "@1@您好，会员日全场五折"}
    return Campaign.objects.create(**{**values, **kwargs})


def staged(campaign):
    return {r.row: r for r in campaign.recipients.all()}


def test_a_gbk_file_with_a_title_row_is_checked_row_by_row():
    campaign = campaigns.stage(make(), gbk_file(), "名单.csv")
    rows = staged(campaign)
    assert campaign.header == ["手机号码", "姓名"] and campaign.mobile_column == 1
    assert campaign.param_columns == {"1": 2}
    assert rows[4].problem == "" and rows[4].params == {"1": "张三"}
    assert rows[5].problem == "shortened" and "1.38E+10" in rows[5].detail_text()
    assert rows[6].problem == "" and rows[6].mobile == "13900139000"
    assert rows[7].problem == "duplicate" and "row 4" in rows[7].detail_text()
    assert rows[8].problem == "invalid"
    assert 9 not in rows, "blank rows are skipped"
    assert (campaign.rows, campaign.valid, campaign.total_parts) == (6, 3, 3)
    assert not Message.objects.exists(), "nothing is sent before the confirm"


def test_encodings_are_detected():
    assert csv_encoding(io.BytesIO("手机\n".encode("utf-8-sig"))) == "utf-8-sig"
    assert csv_encoding(io.BytesIO("手机\n".encode())) == "utf-8"
    assert csv_encoding(io.BytesIO("手机\n".encode("gbk"))) == "gb18030"
    assert list(read_rows(io.BytesIO("手机\n".encode("gbk")), "a.csv")) == [["手机"]]
    with pytest.raises(SpreadsheetError, match="CSV or XLSX"):
        list(read_rows(io.BytesIO(b""), "a.pdf"))


def test_an_xlsx_number_cell_is_exact():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["mobile", "@1@"])
    sheet.append([13800138000.0, "张三"])
    sheet.append([13900139000, "李四"])
    sheet.append(["138 0013 8001", "王五"])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    campaign = campaigns.stage(make(), data, "list.xlsx")
    assert [r.mobile for r in campaign.recipients.all()] == [
        "13800138000",
        "13900139000",
        "13800138001",
    ]
    assert campaign.valid == 3


def test_row_problems_with_a_template(settings):
    template = Template.objects.create(template_id="T-7", name="t", body="@1@您好，您的@2@已发货")
    BlockedWord.objects.create(account="default", word="违禁")
    Suppression.objects.create(mobile="13600136000", source="staff", scope="all")
    data = (
        "号码,参数1,参数2\n"
        "13800138000,张三,快递\n"
        "13900139000,,快递\n"
        "13700137000,李四,快递,多余\n"
        "13500135000,王五,违禁品\n"
        "13600136000,赵六,快递\n"
        f"13400134000,{'长' * 300},快递\n"
        "13300133000,a=b,快递\n"
    )
    campaign = campaigns.stage(
        make(template=template, content=""), io.BytesIO(data.encode()), "x.csv"
    )
    rows = staged(campaign)
    assert rows[2].problem == "" and rows[2].params == {"1": "张三", "2": "快递"}
    assert [rows[n].problem for n in range(3, 9)] == [
        "missing",
        "extra",
        "blocked",
        "suppressed",
        "too_long",
        "bad_text",
    ]
    assert "@1@" in rows[3].detail_text()


def test_campaign_level_problems_come_first():
    with pytest.raises(CampaignError, match="text"):
        campaigns.stage(make(content=" "), gbk_file(), "a.csv")
    with pytest.raises(CampaignError, match="No mobile number"):
        campaigns.stage(make(), io.BytesIO(b"a,b\nc,d\n"), "a.csv")
    template = Template.objects.create(template_id="T-8", name="t", body="促销", is_active=True)
    with pytest.raises(MissingOptOutFooterError):
        campaigns.stage(make(kind="marketing", template=template, content=""), gbk_file(), "a.csv")


def test_preview_and_estimate(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "SIGNATURE": "【迅辰】", "PRICE_PER_PART": "0.05"}
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    shown = campaigns.preview(campaign)
    assert shown[0][1] == "【迅辰】张三您好，会员日全场五折"
    estimate = campaigns.estimate(campaign, with_balance=False)
    assert (estimate.valid, estimate.problems, estimate.parts) == (3, 3, 3)
    assert estimate.cost == Decimal("0.15")


def test_confirm_sends_each_valid_row_once(xunchen_outbox):
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    assert campaigns.confirm(campaign) == 3
    assert not xunchen_outbox, "the confirm only writes the rows"
    assert send_queued()["sent"] == 3
    assert send_queued()["sent"] == 0
    sent = sorted(m for s in xunchen_outbox for m in s.mobiles)
    assert sent == ["13700137000", "13800138000", "13900139000"]
    texts = {s.request.content for s in xunchen_outbox}
    assert "张三您好，会员日全场五折" in texts
    state = campaigns.progress(Campaign.objects.get())
    assert state["state"] == "done" and state["counts"]["sent"] == 3 and state["percent"] == 100
    assert all(r.message_id for r in campaign.recipients.filter(problem=""))
    with pytest.raises(CampaignError, match="already"):
        campaigns.confirm(campaign)


@pytest.fixture
def no_workers(settings):
    settings.TASKS = DUMMY_TASKS


def test_pause_resume_and_cancel(no_workers, xunchen_outbox):
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    campaigns.confirm(campaign)
    assert Campaign.objects.get().state == "running"
    assert campaigns.pause(campaign) == 3
    assert send_queued()["sent"] == 0, "a paused campaign's messages stay"
    assert campaigns.resume(campaign) == 3
    assert Campaign.objects.get().state == "running"
    first = Message.objects.filter(campaign=campaign).order_by("pk").first()
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch

    dispatch([first], get_backend(account="default"))
    assert campaigns.cancel(campaign) == 2
    assert send_queued()["sent"] == 0, "nothing goes out after the cancel"
    statuses = sorted(Message.objects.values_list("status", flat=True))
    assert statuses == ["cancelled", "cancelled", "sent"]
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 1
    assert campaigns.progress(Campaign.objects.get())["state"] == "cancelled"
    with pytest.raises(CampaignError, match="cannot"):
        campaigns.resume(campaign)


def test_a_scheduled_campaign_is_held_until_due_and_can_be_cancelled(no_workers, xunchen_outbox):
    campaign = campaigns.stage(
        make(send_at=timezone.now() + dt.timedelta(hours=2)), gbk_file(), "a.csv"
    )
    campaigns.confirm(campaign)
    assert Campaign.objects.get().state == "scheduled"
    assert send_queued()["sent"] == 0
    campaigns.cancel(campaign)
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}


def test_a_due_scheduled_campaign_goes_out_with_send_queued(no_workers, xunchen_outbox):
    campaign = campaigns.stage(
        make(send_at=timezone.now() + dt.timedelta(minutes=5)), gbk_file(), "a.csv"
    )
    campaigns.confirm(campaign)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        assert send_queued()["sent"] == 3
        assert campaigns.progress(Campaign.objects.get())["state"] == "done"


def test_without_django_tasks_a_campaign_waits_for_send_queued(monkeypatch, xunchen_outbox):
    block_django_tasks(monkeypatch)
    campaign = campaigns.stage(make(), gbk_file(), "a.csv")
    campaigns.confirm(campaign)
    assert not xunchen_outbox
    assert send_queued()["sent"] == 3
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_staff_choose_the_columns():
    data = "13800138000,备注,张三\n13900139000,备注,李四\n".encode()
    campaign = campaigns.stage(make(), io.BytesIO(data), "a.csv", param_columns={1: 3})
    assert [r.params for r in campaign.recipients.all()] == [{"1": "张三"}, {"1": "李四"}]
    auto = campaigns.stage(make(), io.BytesIO(data), "a.csv")
    assert auto.recipients.first().params == {"1": "备注"}, "without a choice: the next column"
    with pytest.raises(CampaignError, match="@2@"):
        campaigns.stage(make(), io.BytesIO(data), "a.csv", param_columns={2: 3})


def test_the_demo_sample_file_is_the_journey_s_file():
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "example_project/samples/campaign-gbk.csv"
    assert sample.read_bytes() == gbk_file().getvalue()


# ----------------------------------------------------------------------- quiet hours


def beijing(hour, minute=0, day=26):
    from django_xunchen.client.types import CHINA_TZ

    return dt.datetime(2026, 11, day, hour, minute, tzinfo=CHINA_TZ)


def block_django_tasks(monkeypatch):
    """No task framework is installed (Django 5.2 without django-tasks): a campaign's
    rows wait for send_queued."""
    from django_xunchen import tasks

    monkeypatch.setattr(tasks, "task", None)
    monkeypatch.setattr(tasks, "task_backends", None)


@pytest.mark.parametrize("workers", ["immediate", "deferred", "none"])
def test_a_marketing_campaign_confirmed_at_22_sends_nothing_until_8(
    workers, settings, monkeypatch, xunchen_outbox
):
    """China time, 21:00–08:00: whichever path reaches the campaign's rows (the confirm
    and its send tasks or its commit hook, a task run late, the tick, send_queued, a
    dispatch of the rows, a pause and resume), none goes out before 08:00; at 08:00 all
    of them go."""
    from django_xunchen.dispatch.submit import Backends, dispatch
    from django_xunchen.tasks import send_messages, task_backends, tick

    settings.XUNCHEN = {**settings.XUNCHEN, "QUIET_HOURS": ("21:00", "08:00")}
    if workers == "deferred":
        settings.TASKS = {
            "default": {
                "BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend",
                "QUEUES": ["default", "sms-codes"],
            }
        }
        task_backends["default"].clear()
    elif workers == "none":
        block_django_tasks(monkeypatch)

    def every_path():
        """Everything that could submit the campaign's rows now; what it sent."""
        tasks = task_backends["default"]
        late = [r for r in getattr(tasks, "results", []) if r.task.name == "send_messages"]
        for task in late:  # a worker runs the enqueued send tasks now
            send_messages.call(*task.args)
        ids = list(Message.objects.values_list("pk", flat=True))
        send_messages.call(ids)
        tick.call()
        send_queued()
        dispatch(list(Message.objects.select_related("template")), Backends())
        return sum(len(s.mobiles) for s in xunchen_outbox)

    with time_machine.travel(beijing(21, 30), tick=False):
        campaign = campaigns.stage(make(kind="marketing"), gbk_file(), "a.csv")
    with time_machine.travel(beijing(22), tick=False):
        assert campaigns.confirm(campaign) == 3
        assert not xunchen_outbox
        assert every_path() == 0
    assert set(Message.objects.values_list("status", "hold_until")) == {
        (Message.Status.QUEUED, beijing(8, day=27))
    }
    with time_machine.travel(beijing(23), tick=False):
        assert campaigns.pause(campaign) == 3
        assert campaigns.resume(campaign) == 3
        assert every_path() == 0
    with time_machine.travel(beijing(7, 59, day=27), tick=False):
        assert every_path() == 0
    with time_machine.travel(beijing(8, day=27), tick=False):
        if workers == "deferred":
            assert tick.call()["sent"] == 3
        else:
            assert send_queued()["sent"] == 3
        assert campaigns.progress(Campaign.objects.get())["state"] == "done"
    assert sorted(m for s in xunchen_outbox for m in s.mobiles) == [
        "13700137000",
        "13800138000",
        "13900139000",
    ]
    assert all(s.request.send_at is None for s in xunchen_outbox), "held here, not at the gateway"
