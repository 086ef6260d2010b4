"""An SMS sent to a phone-number object, as staff see it in the admin: the number in its
11-digit form, found by a search typed the way phonenumber-field shows it. The screenshot
goes to $XUNCHEN_SCREENSHOTS (docs/_static/integrations was made this way), else to
test-artifacts/."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from phonenumber_field.phonenumber import PhoneNumber

from django_xunchen import send_sms

from ..admin.test_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_number_object_is_stored_and_found_in_its_eleven_digit_form(chromium, live_server):
    User.objects.create_superuser("admin", "admin@example.com", "admin-pass")
    send_sms(PhoneNumber.from_string("+86 138 0013 8000"), "您的订单已发货")
    send_sms("13900139000", "会议改到三点")
    page = chromium.new_context(viewport={"width": 1100, "height": 520}).new_page()
    page.set_default_timeout(15000)
    base = live_server.url
    log_in(page, base, "/admin/django_xunchen/message/")
    page.fill("#searchbar", "+86 138 0013 8000")
    page.press("#searchbar", "Enter")
    page.wait_for_selector("#result_list")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "13800138000" in rows.first.inner_text()
    folder = Path(os.environ.get("XUNCHEN_SCREENSHOTS", "test-artifacts/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / "phone-numbers-admin.png")
