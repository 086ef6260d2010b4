"""The campaign journey in Chromium: upload a GBK file with a title row, an Excel-shortened
number, a duplicate and a bad number; see the errors; confirm; watch the progress reach
done without reloading; cancel a second campaign halfway. Screenshots as in
test_browser.py."""

import pytest
from django.contrib.auth.models import User

from django_xunchen import send_queued
from django_xunchen.backends import get_backend
from django_xunchen.dispatch.submit import dispatch
from django_xunchen.models import Campaign, Message

from ..campaigns.test_campaigns import gbk_file
from .test_browser import log_in, shots  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
TASKS_MODULE = "django.tasks" if __import__("django").VERSION >= (6,) else "django_tasks"


def upload(page, base, name, path):
    page.goto(f"{base}/admin/django_xunchen/campaign/add/")
    page.fill("#id_name", name)
    page.select_option("#id_kind", "notification")
    page.fill("#id_content", "@1@您好，会员日全场五折")
    page.set_input_files("#id_file", str(path))
    page.click("input[name=_save]")
    page.wait_for_selector("#campaign-summary")


def test_campaign_journey(chromium, live_server, gateway, settings, shots, tmp_path):  # noqa: F811
    # No workers: the test plays the worker, so that the page is seen while it runs.
    settings.TASKS = {"default": {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}}
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    file = tmp_path / "会员名单.csv"
    file.write_bytes(gbk_file().getvalue())
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    base = live_server.url
    log_in(page, base, "/admin/django_xunchen/campaign/")

    upload(page, base, "双十一会员日", file)
    problems = page.inner_text("#campaign-problems")
    assert "Excel shortened the number to 1.38E+10" in problems
    assert "Same number as row 4." in problems
    assert "Not a mainland China mobile number: 12345" in problems
    assert page.inner_text("#estimate-valid") == "3"
    assert "张三您好，会员日全场五折" in page.inner_text("#campaign-preview")
    page.screenshot(path=shots / "campaign-check.png", full_page=True)
    assert not gateway.submissions, "nothing is sent before the confirm"

    page.click("#campaign-confirm")
    page.wait_for_selector("#campaign-progress")
    assert page.inner_text("#campaign-percent") == "0"
    assert send_queued()["sent"] == 3
    page.wait_for_function(
        "document.getElementById('campaign-state').textContent.trim() === 'done'"
    )
    assert page.inner_text("#count-sent") == "3" and page.inner_text("#campaign-percent") == "100"
    page.screenshot(path=shots / "campaign-progress.png", full_page=True)
    assert sorted(m for s in gateway.submissions for m in s.mobiles) == [
        "13700137000",
        "13800138000",
        "13900139000",
    ]

    upload(page, base, "第二批", file)
    page.click("#campaign-confirm")
    page.wait_for_selector("#campaign-cancel")
    second = Campaign.objects.get(name="第二批")
    first = Message.objects.filter(campaign=second).order_by("pk")[:1]
    dispatch(list(first), get_backend(account="default"))
    page.click("#campaign-cancel")
    assert "2 messages not yet sent will never go out" in page.inner_text("#cancel-summary")
    assert Campaign.objects.get(name="第二批").state == "running", "asking changes nothing"
    page.click("#campaign-cancel-confirm")
    page.wait_for_selector(".messagelist")
    assert "2 messages cancelled." in page.inner_text(".messagelist")
    before = len(gateway.submissions)
    assert send_queued()["sent"] == 0
    assert len(gateway.submissions) == before, "nothing goes out after the cancel"
    assert sorted(Message.objects.filter(campaign=second).values_list("status", flat=True)) == [
        "cancelled",
        "cancelled",
        "sent",
    ]
    page.screenshot(path=shots / "campaign-cancelled.png", full_page=True)

    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    page.reload()
    text = page.inner_text("body")
    assert "群发活动" in text and "已取消" in text and "进度" in text
    page.screenshot(path=shots / "campaign-zh.png", full_page=True)
    context.close()
