"""The staff pages hold at a laptop's width and a phone's: at 1280 and 390 px the document
never scrolls sideways (a wide table may scroll inside its own box), and at 1280 px every
column of the message list is on screen. Screenshots of both widths, in both languages,
go where test_browser.py puts its own (the admin guide shows them)."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from django_xunchen.models import Campaign, InboundMessage, Message, PollState, Suppression

from .test_browser import log_in, shots  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MOBILE = "13800138000"
WIDTHS = (1280, 390)


def seed() -> Campaign:
    """A month of messages of every status, with long msgids and texts, replies, a
    number on the suppression list, and a campaign half sent."""
    statuses = [s for s in Message.Status.values]
    now = timezone.now()
    for account in ("default", "codes", "marketing"):
        for operation in ("queryReport", "queryMo"):
            PollState.objects.create(account=account, operation=operation, last_success_at=now)
    for day in range(30):
        for n, status in enumerate(statuses):
            if day and status in ("queued", "sending"):
                continue  # only today's are still on their way
            row = Message.objects.create(
                mobile=f"1380013{n:04d}",
                content="您好，您的订单已发货，预计明天下午送达，请保持电话畅通。" * (1 + n % 3),
                status=status,
                msgid=f"2026120610{n:02d}3000123456789012345{day:02d}",
                error_code="MK:0012" if status == "undelivered" else "",
                account=["default", "codes", "marketing"][n % 3],
                kind="marketing" if n % 2 else "notification",
            )
            at = now - dt.timedelta(days=day, minutes=n)
            Message.objects.filter(pk=row.pk).update(created_at=at, reported_at=at)
    notice = Message.objects.create(
        mobile=MOBILE,
        content="您的订单 20261206-0042 已发货，预计明天下午送达。",
        status="delivered",
    )
    Message.objects.filter(pk=notice.pk).update(created_at=now - dt.timedelta(hours=2))
    InboundMessage.objects.create(
        mobile=MOBILE,
        recvcode="106905994140010",
        content="能改成周六送吗？我明天下午不在家，谢谢！",
        message=notice,
        received_at=now - dt.timedelta(hours=1),
    )
    Message.objects.create(
        mobile=MOBILE, content="好的，已改为周六上午送达。", status="sent", msgid="M" * 30
    )
    Suppression.objects.create(mobile=MOBILE, scope="marketing", source="reply")
    campaign = Campaign.objects.create(
        name="双十二会员日·全国门店同步五折大促销活动通知", content="@1@您好", state="running"
    )
    for n, status in enumerate(statuses * 3):
        Message.objects.create(
            mobile=f"1390013{n:04d}",
            content="张三您好，会员日全场五折",
            status=status,
            campaign=campaign,
        )
    return campaign


def pages(campaign: Campaign) -> dict[str, str]:
    return {
        "message-list": "/admin/django_xunchen/message/",
        "dashboard": "/admin/django_xunchen/message/dashboard/",
        "campaign": f"/admin/django_xunchen/campaign/{campaign.pk}/change/",
        "conversation": f"/admin/django_xunchen/message/conversation/{MOBILE}/",
    }


SIDEWAYS = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_no_page_scrolls_sideways_at_1280_or_390(
    chromium,
    live_server,
    shots,  # noqa: F811
    locale,
    three_accounts,
):
    """With several accounts, as most sites have: the list shows an account column."""
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    campaign = seed()
    wrong = []
    for width in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": 900}, locale=locale)
        page = context.new_page()
        page.set_default_timeout(15000)
        log_in(page, live_server.url, "/admin/")
        page.wait_for_selector("#content")
        for name, path in pages(campaign).items():
            page.goto(live_server.url + path)
            page.wait_for_selector("#content-main")
            document, window = page.evaluate(SIDEWAYS)
            if document > window:
                wrong.append(f"{name} at {width} px ({locale}): the page is {document} px wide")
            language = "zh" if locale == "zh-CN" else "en"
            page.screenshot(path=shots / f"{name}-{width}-{language}.png")
        if width == 1280:
            page.goto(live_server.url + "/admin/django_xunchen/message/")
            seen, wide = page.eval_on_selector(".results", "e => [e.clientWidth, e.scrollWidth]")
            if wide > seen:
                columns = page.evaluate(
                    "() => [...document.querySelectorAll('#result_list thead th')]"
                    ".map(th => th.className + ':' + Math.round(th.getBoundingClientRect().width))"
                )
                wrong.append(f"the message list needs {wide} px of {seen} ({locale}): {columns}")
        context.close()
    assert wrong == []
