"""The campaign admin: upload, check, confirm, watch; and who may do which."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from django_xunchen import send_queued
from django_xunchen.models import Campaign, Message

from ..campaigns.test_campaigns import gbk_file
from .conftest import _staff

pytestmark = pytest.mark.django_db(transaction=True)
ADD = reverse("admin:django_xunchen_campaign_add")


def upload(client, **extra):
    data = {
        "name": "双十一",
        "kind": "notification",
        "account": "default",
        "content": "@1@您好，会员日全场五折",
        "file": SimpleUploadedFile("名单.csv", gbk_file().getvalue(), "text/csv"),
        **extra,
    }
    return client.post(ADD, data)


def step(campaign, name):
    return reverse("admin:django_xunchen_campaign_step", args=[campaign.pk, name])


def test_upload_check_confirm_and_watch(admin_client, xunchen_outbox):
    response = upload(admin_client)
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/{campaign.pk}/change/")
    page = admin_client.get(response.url).content.decode()
    assert "张三您好，会员日全场五折" in page, "the preview as the handset shows it"
    assert "1.38E+10" in page and "Same number as row 4." in page
    assert 'id="estimate-valid">3<' in page and not xunchen_outbox
    problems = admin_client.get(
        reverse("admin:django_xunchen_campaign_problems", args=[campaign.pk])
    )
    lines = problems.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("row,") and len(lines) == 4 and lines[1].startswith("5,")
    assert admin_client.post(step(campaign, "confirm")).status_code == 302
    assert not xunchen_outbox, "the request only writes the rows"
    assert send_queued()["sent"] == 3
    progress = admin_client.get(
        reverse("admin:django_xunchen_campaign_progress", args=[campaign.pk])
    )
    assert progress.json()["state"] == "done" and progress.json()["counts"]["sent"] == 3
    assert Campaign.objects.get().created_by.username == "admin"


def test_a_file_without_numbers_is_refused_before_anything_is_stored(admin_client):
    response = admin_client.post(
        ADD,
        {
            "name": "x",
            "kind": "notification",
            "account": "default",
            "content": "您好",
            "file": SimpleUploadedFile("a.csv", b"a,b\n", "text/csv"),
        },
    )
    assert response.status_code == 200 and "No mobile number" in response.content.decode()
    assert not Campaign.objects.exists()


def test_creating_and_sending_are_separate_permissions(client, xunchen_outbox):
    client.force_login(_staff("maker", "add_campaign", "view_campaign"))
    assert upload(client).status_code == 302
    campaign = Campaign.objects.get()
    page = client.get(reverse("admin:django_xunchen_campaign_change", args=[campaign.pk]))
    assert "campaign-problems" in page.content.decode()
    assert "campaign-confirm" not in page.content.decode()
    assert client.post(step(campaign, "confirm")).status_code == 403
    assert not Message.objects.exists()

    client.force_login(_staff("sender", "send_campaign", "view_campaign"))
    assert client.post(step(campaign, "confirm")).status_code == 302
    assert Message.objects.count() == 3


def test_view_only_sees_progress_and_nothing_more(client, admin_client, xunchen_outbox):
    upload(admin_client)
    campaign = Campaign.objects.get()
    admin_client.post(step(campaign, "confirm"))
    client.force_login(_staff("watcher", "view_campaign"))
    page = client.get(reverse("admin:django_xunchen_campaign_change", args=[campaign.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "campaign-progress" in text
    assert "campaign-cancel" not in text and "campaign-problems" not in text
    assert client.post(step(campaign, "cancel")).status_code == 403
    assert client.get(ADD).status_code == 403
    problems = reverse("admin:django_xunchen_campaign_problems", args=[campaign.pk])
    assert client.get(problems).status_code == 403
    nobody = _staff("nobody", "view_message")
    client.force_login(nobody)
    progress = reverse("admin:django_xunchen_campaign_progress", args=[campaign.pk])
    assert client.get(progress).status_code == 403


def test_the_parameter_columns_can_be_chosen(admin_client):
    data = SimpleUploadedFile("a.csv", "13800138000,备注,张三\n".encode(), "text/csv")
    assert upload(admin_client, file=data, parameter_columns="1=3").status_code == 302
    assert Campaign.objects.get().recipients.get().params == {"1": "张三"}
    bad = SimpleUploadedFile("a.csv", b"13800138000,x\n", "text/csv")
    page = upload(admin_client, file=bad, parameter_columns="a=b")
    assert page.status_code == 200 and "n=column" in page.content.decode()


def test_a_large_upload_only_stores_the_file_and_the_page_follows_its_check(
    admin_client, settings, xunchen_outbox
):
    """Issue 28, finding 6: the upload request stores the file and returns; a task checks
    it, and the campaign page shows how far it got."""
    settings.XUNCHEN = {**settings.XUNCHEN, "CAMPAIGN_BACKGROUND_FROM_ROWS": 5}
    settings.TASKS = {
        "default": {
            "BACKEND": f"{settings.TASKS_MODULE}.backends.dummy.DummyBackend",
            "QUEUES": ["default", "sms-codes"],
        }
    }
    from django_xunchen.tasks import check_campaign_file, task_backends

    task_backends["default"].clear()
    response = upload(admin_client)
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and campaign.state == "checking"
    assert not campaign.recipients.exists(), "no row checked in the request"
    page = admin_client.get(response.url).content.decode()
    assert "Checking the file" in page and 'id="check-total">10<' in page
    assert "campaign-confirm" not in page and "campaign-cancel" in page
    (task,) = [r for r in task_backends["default"].results if r.task.name == "check_campaign_file"]
    assert check_campaign_file.call(*task.args) == "checked"
    page = admin_client.get(response.url).content.decode()
    assert "张三您好，会员日全场五折" in page and 'id="estimate-valid">3<' in page
    assert "campaign-check" not in page
    assert admin_client.post(step(campaign, "confirm")).status_code == 302
    assert Message.objects.count() == 3
    task_backends["default"].clear()


def test_a_scheduled_campaign_is_confirmed_with_its_start_not_as_under_way(admin_client):
    import datetime as dt

    from django.utils import timezone

    upload(admin_client, send_at_0="2030-01-02", send_at_1="09:30:00")
    campaign = Campaign.objects.get()
    assert campaign.send_at == dt.datetime(
        2030, 1, 2, 9, 30, tzinfo=timezone.get_current_timezone()
    )
    page = admin_client.post(step(campaign, "confirm"), follow=True).content.decode()
    assert "3 messages created; the campaign starts at" in page and "2030" in page
    assert "under way" not in page


def test_problem_details_are_in_the_reader_s_language_whoever_uploaded(admin_client):
    """Stored as a problem and its values; each reader sees them in their own language,
    on the page and in the downloaded CSV."""
    from django.utils import translation

    with translation.override("zh-hans"):
        upload(admin_client, HTTP_ACCEPT_LANGUAGE="zh-hans")
    campaign = Campaign.objects.get()
    duplicate = campaign.recipients.get(problem="duplicate")
    assert duplicate.detail_values == {"row": 4} and duplicate.detail == ""
    page = reverse("admin:django_xunchen_campaign_change", args=[campaign.pk])
    csv = reverse("admin:django_xunchen_campaign_problems", args=[campaign.pk])
    english = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = admin_client.get(page, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Same number as row 4." in english and "与第 4 行号码重复" not in english
    assert "与第 4 行号码重复" in chinese and "Same number as row" not in chinese
    rows = admin_client.get(csv, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode("utf-8-sig")
    assert "与第 4 行号码重复" in rows and "Same number" not in rows
    with translation.override("en"):
        assert duplicate.detail_text() == "Same number as row 4."
    old = campaign.recipients.create(row=99, mobile="1", problem="invalid", detail="Not 1")
    assert old.detail_text() == "Not 1", "rows checked before keep their text"


def test_the_form_s_labels_are_capitalised_and_the_breadcrumb_names_the_app(admin_client):
    form = admin_client.get(ADD).content.decode()
    for label in ("Account", "Number column", "Parameter columns"):
        assert f">{label}:</label>" in form
    upload(admin_client)
    campaign = Campaign.objects.get()
    page = admin_client.get(reverse("admin:django_xunchen_campaign_change", args=[campaign.pk]))
    app = reverse("admin:app_list", args=["django_xunchen"])
    assert f'<a href="{app}">' in page.content.decode()


def test_cancel_asks_first_and_the_answer_cancels(admin_client, xunchen_outbox):
    from django_xunchen import campaigns

    upload(admin_client)
    campaign = Campaign.objects.get()
    campaigns.confirm(campaign)
    ask = reverse("admin:django_xunchen_campaign_cancel", args=[campaign.pk])
    page = admin_client.get(ask).content.decode()
    assert "3 messages not yet sent will never go out." in page
    assert Campaign.objects.get().state == "running", "asking changes nothing"
    admin_client.post(step(campaign, "cancel"))
    assert Campaign.objects.get().state == "cancelled"
