"""One journey through the admin in a real browser: Playwright driving Debian's Chromium.

Log in, send a template SMS from the form, poll, see it delivered, resend it, check the
balance, switch to Chinese. Screenshots go to $XUNCHEN_SCREENSHOTS (the admin guide's
images in docs/_static/screenshots were made this way), else to test-artifacts/.
"""

import datetime as dt
import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from django_xunchen import poll
from django_xunchen.models import Message, Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base, then):
    """Log in as the superuser "admin" and go on to ``then``."""
    page.goto(f"{base}/admin/login/?next={then}")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-pass")
    page.click("input[type=submit]")


@pytest.fixture
def shots():
    folder = Path(os.environ.get("XUNCHEN_SCREENSHOTS", "test-artifacts/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_staff_journey(chromium, live_server, gateway, shots):
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    Template.objects.create(
        template_id="JSM40001-0001",
        name="验证码 Verification code",
        body="尊敬的@1@,您的验证码为@2@，请及时输入。",
    )
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    base = live_server.url

    log_in(page, base, "/admin/")
    page.click('a.addlink[href="/admin/django_xunchen/message/add/"]')
    page.wait_for_selector("#id_mobiles")  # the admin index's "Add" opens the send form
    page.goto(f"{base}/admin/django_xunchen/message/")
    page.wait_for_selector("text=Send SMS")
    banner = page.locator(".xunchen-poll-banner")
    assert banner.is_visible(), "nothing was ever polled: the banner says so"
    assert "is poll_sms running?" in banner.inner_text()
    page.screenshot(path=shots / "poll-banner.png")

    page.click("text=Send SMS")
    page.fill("#id_mobiles", "13800138000\n+86 139-0000-0000")
    page.select_option("#id_template", label="验证码 Verification code (JSM40001-0001)")
    page.fill("#id_params", "1=张三\n2=482913")
    page.screenshot(path=shots / "send-form.png", full_page=True)
    page.click("input[name=_send]")
    page.wait_for_selector(".messagelist")
    assert "2 messages created" in page.inner_text(".messagelist")
    assert page.locator(".xunchen-status-sent").count() == 2
    assert "batch=" in page.url
    assert [s.text for s in gateway.submissions] == ["尊敬的张三,您的验证码为482913，请及时输入。"]

    assert poll(force=True).reports_matched == 2
    page.reload()
    assert page.locator(".xunchen-status-delivered").count() == 2
    page.goto(f"{base}/admin/django_xunchen/message/")
    page.screenshot(path=shots / "message-list.png", full_page=True)
    scroll = page.eval_on_selector(".results", "e => [e.scrollWidth, e.clientWidth]")
    assert scroll[0] <= scroll[1], f"no horizontal scroll at 1280 px: {scroll}"
    for column in ("msgid_cell", "created", "reported"):
        assert page.locator(f"#result_list th.column-{column}").is_visible()

    today = timezone.localdate().isoformat()
    page.fill("#created-form input[name=created_at__range__gte_0]", today)
    page.fill("#created-form input[name=created_at__range__lte_0]", today)
    page.click("#created-form input[type=submit]")
    page.wait_for_url("**created_at__range__gte_0=*")
    assert "Enter a valid" not in page.inner_text("#changelist-filter")
    assert page.locator("#result_list tbody tr").count() == 2, "dates alone filter"
    page.screenshot(path=shots / "date-filter.png", full_page=True)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    page.fill("#created-form input[name=created_at__range__gte_0]", tomorrow)
    page.fill("#created-form input[name=created_at__range__lte_0]", "")
    page.click("#created-form input[type=submit]")
    page.wait_for_url(f"**created_at__range__gte_0={tomorrow}*")
    assert page.locator("#result_list tbody tr").count() == 0
    page.locator("#changelist-filter .xunchen-quick-ranges").first.get_by_text("Today").click()
    page.wait_for_url(f"**created_at__range__gte_0={today}*")
    assert page.locator("#result_list tbody tr").count() == 2

    message = Message.objects.get(mobile="13800138000")
    page.goto(f"{base}/admin/django_xunchen/message/{message.pk}/change/")
    assert "DELIVRD" in page.content()
    page.screenshot(path=shots / "message-detail.png", full_page=True)

    page.goto(f"{base}/admin/django_xunchen/message/?q=13800138000")
    page.check("input.action-select")
    page.select_option("select[name=action]", "resend_selected")
    page.click("button[name=index]")
    page.wait_for_selector("#resend-summary")
    assert "1 message will be sent again, to 1 number" in page.inner_text("#resend-summary")
    page.screenshot(path=shots / "resend-confirmation.png", full_page=True)
    page.click("input[type=submit][value='Yes, resend']")
    page.wait_for_selector(".messagelist")
    assert "Resent 1 message." in page.inner_text(".messagelist")
    assert Message.objects.filter(resent_from=message, status="sent").count() == 1
    assert len(gateway.submissions) == 2

    page.goto(f"{base}/admin/django_xunchen/message/")
    page.click("text=Check balance")
    balance = page.inner_text("#balance-amount")
    assert balance.startswith("Balance: 4999.7")
    assert "49997 messages" in page.inner_text("#balance-messages")
    page.screenshot(path=shots / "balance.png", full_page=True)

    page.goto(f"{base}/admin/django_xunchen/message/dashboard/")
    assert page.inner_text("#total") == "3 messages"
    assert page.inner_text("#delivery-rate") == "100%"
    assert "2 delivered of 2 with an outcome" in page.inner_text(".xunchen-rate-basis")
    assert page.locator("svg[role=img] rect").count() >= 1
    assert page.locator("svg[role=img] circle.rate-point").count() == 1, "today's rate drawn"
    page.screenshot(path=shots / "dashboard.png", full_page=True)

    page.goto(f"{base}/admin/django_xunchen/template/")
    page.click("text=验证码 Verification code")
    assert "⟨value 1⟩" in page.inner_text(".xunchen-preview")
    page.screenshot(path=shots / "template.png", full_page=True)

    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    page.goto(f"{base}/admin/django_xunchen/message/")
    text = page.inner_text("body")
    assert "发送短信" in text and "查询余额" in text and "已送达" in text
    assert "最近 7 天" in page.inner_text("#changelist-filter")
    page.screenshot(path=shots / "message-list-zh.png", full_page=True)
    page.goto(f"{base}/admin/django_xunchen/message/dashboard/")
    assert page.inner_text("#total") == "3 条短信"
    assert "送达率" in page.inner_text("body")
    page.screenshot(path=shots / "dashboard-zh.png", full_page=True)
    context.close()


def test_the_send_form_offers_the_chosen_account_templates(chromium, live_server, settings):
    locmem = "django_xunchen.backends.locmem.SMSBackend"
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "USERNAME": "",
        "PASSWORD": "",
        "VERY_CODE": "",
        "ACCOUNTS": {"default": {"BACKEND": locmem}, "codes": {"BACKEND": locmem}},
        "ROUTES": {"verification": "codes"},
    }
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    Template.objects.create(account="default", template_id="N-1", name="Shipped", body="@1@")
    Template.objects.create(account="codes", template_id="C-1", name="Code", body="码@1@")
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server.url, "/admin/django_xunchen/message/send/")
    page.wait_for_selector("#id_template")

    def offered():
        return page.eval_on_selector_all(
            "#id_template option[data-account]:not([hidden])", "els => els.map(e => e.text)"
        )

    assert offered() == ["Shipped (N-1)"]
    page.select_option("#id_kind", "verification")
    assert offered() == ["Code (C-1, codes)"]
    page.select_option("#id_account", "default")
    assert offered() == ["Shipped (N-1)"]
    page.select_option("#id_template", label="Shipped (N-1)")
    page.select_option("#id_account", "codes")
    assert page.input_value("#id_template") == "", "a template of another account is let go"
    page.select_option("#id_template", label="Code (C-1, codes)")
    page.fill("#id_mobiles", "13800138000")
    page.fill("#id_params", "1=4821")
    page.click("input[name=_send]")
    page.wait_for_selector(".messagelist")
    message = Message.objects.get()
    assert (message.account, message.kind, message.content) == ("codes", "verification", "码4821")
    context.close()


def test_the_send_form_previews_parts_cost_footer_and_blocked_words(
    chromium, live_server, settings
):
    from django_xunchen.models import BlockedWord, Suppression

    settings.XUNCHEN = {**settings.XUNCHEN, "SIGNATURE": "【江苏迅辰】"}
    BlockedWord.objects.create(word="发票")
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    log_in(page, live_server.url, "/admin/django_xunchen/message/send/")
    page.wait_for_selector("#send-preview")
    page.fill("#id_mobiles", "13800138000\n+86 139-0000-0000\nnot a number")
    page.fill("#id_content", "字" * 64)
    figures = {
        name: page.inner_text(f"#preview-{name}")
        for name in ("chars", "parts", "numbers", "total", "cost", "balance")
    }
    assert figures == {
        "chars": "70",
        "parts": "1",
        "numbers": "2",
        "total": "2",
        "cost": "0.2",
        "balance": "999.8",
    }
    page.select_option("#id_kind", "marketing")
    assert page.inner_text("#preview-text").endswith("回T退订")
    assert page.inner_text("#preview-chars") == "74" and page.inner_text("#preview-parts") == "2"
    assert page.inner_text("#preview-total") == "4"
    assert not page.is_visible("#preview-words")
    page.fill("#id_content", "正规发票")
    assert page.is_visible("#preview-words") and "发票" in page.inner_text("#preview-words")
    Suppression.objects.create(mobile="13900000000", scope="marketing", source="reply")
    page.fill("#id_content", "春季上新")
    page.fill("#id_mobiles", "13800138000\n13900000000")
    page.wait_for_function("document.getElementById('preview-suppressed').textContent === '1'")
    assert page.inner_text("#preview-numbers") == "1" and page.inner_text("#preview-total") == "1"
    page.select_option("#id_kind", "notification")
    page.wait_for_function("document.getElementById('preview-suppressed').textContent === '0'")
    assert page.inner_text("#preview-numbers") == "2", "a marketing opt-out still gets notices"
    page.screenshot(path=Path("test-artifacts/screenshots") / "send-preview.png", full_page=True)
    context.close()
