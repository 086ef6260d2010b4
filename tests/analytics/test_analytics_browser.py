"""The analytics page in a real browser, in English and in Chinese. Screenshots go to
$XUNCHEN_SCREENSHOTS (docs/_static/screenshots/analytics*.png were made this way), else
to test-artifacts/."""

import datetime as dt
import os
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen.backends import locmem
from django_xunchen.models import Campaign, Message
from django_xunchen.operations import rollup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: 7-digit blocks of several carriers and provinces.
BLOCKS = ["1380013", "1391234", "1501234", "1861234", "1551234", "1891234", "1331234", "1341234"]
#: Report codes by block: one carrier fails more than the others.
FAILURES = {"1861234": "MA:0006", "1551234": "EXPIRED", "1331234": "UNDELIV"}


def traffic():
    """Ten days of messages: per day and block a few numbers, reported after a delay
    that grows with the day; a campaign on the last three days."""
    campaign = Campaign.objects.create(name="双十二促销", content="x", state="done")
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    for days_ago in range(10, 0, -1):
        moment = start - dt.timedelta(days=days_ago)
        with time_machine.travel(moment, tick=False):
            numbers = [f"{b}{days_ago:02d}{n:02d}" for b in BLOCKS for n in range(3 + days_ago % 4)]
            sent = send_sms(numbers, "您的订单已发货，请注意查收。")
            if days_ago <= 3:
                Message.objects.filter(pk__in=[m.pk for m in sent[::3]]).update(campaign=campaign)
        for i, message in enumerate(sent):
            delay = dt.timedelta(
                seconds=4 + (i * 7 + days_ago * 13) % 50 + (600 if i % 9 == 0 else 0)
            )
            with time_machine.travel(moment + delay, tick=False):
                code = FAILURES.get(message.mobile[:7]) if i % 3 == 0 else None
                locmem.queue_report(message.mobile, message.msgid, code or "DELIVRD")
        with time_machine.travel(moment + dt.timedelta(hours=1), tick=False):
            poll(force=True)
    rollup.maintain()


def test_the_analytics_page_in_both_languages(chromium, live_server, xunchen_outbox):
    shots = Path(os.environ.get("XUNCHEN_SCREENSHOTS", "test-artifacts/screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    traffic()
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    base = live_server.url
    page.goto(f"{base}/admin/login/?next=/admin/django_xunchen/message/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pass")
    page.click("input[type=submit]")
    page.click("text=Analytics")
    page.wait_for_selector("#by-carrier")
    assert "China Unicom" in page.inner_text("#by-carrier")
    assert "MA:0006" in page.inner_text("#failure-codes")
    assert page.locator("svg[role=img] rect").count() >= 8
    assert page.locator("svg[role=img] polyline").count() == 3, "p50, p90, p99"
    page.screenshot(path=shots / "analytics.png", full_page=True)
    with page.expect_download() as download:
        page.click("#analytics-export")
    assert download.value.suggested_filename.startswith("sms-analytics-")

    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    page.goto(f"{base}/admin/django_xunchen/message/analytics/")
    text = page.inner_text("body")
    assert "中国联通" in text and "按运营商的送达情况" in text and "状态报告延迟" in text
    page.screenshot(path=shots / "analytics-zh.png", full_page=True)
    context.close()
