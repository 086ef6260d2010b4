"""two-factor's SMS setup in a real Chromium, through the app's gateway. The screenshot of
the number step goes to $XUNCHEN_SCREENSHOTS (docs/_static/integrations/
two-factor-setup.png was made this way), else to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from django_xunchen.testing import last_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GATEWAY = "django_xunchen.integrations.two_factor.XunchenGateway"

#: two-factor's own _base.html loads Bootstrap from a CDN and asks for a site template;
#: a site provides one. This stands for it, with no network.
BASE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<style>
 body { font: 15px/1.5 system-ui, sans-serif; background: #f4f5f7; margin: 0; color: #222 }
 .container { max-width: 560px; margin: 40px auto; background: #fff; padding: 24px 32px;
   border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.12) }
 h1 { font-size: 22px; margin-top: 0 } label { display: block; font-weight: 600 }
 input[type=text], input[type=tel] { width: 100%; padding: 8px; font-size: 16px;
   box-sizing: border-box; margin: 6px 0 14px }
 .btn { padding: 8px 16px; border: 1px solid #888; border-radius: 4px; background: #fff }
 .btn-primary { background: #0b63ce; color: #fff; border-color: #0b63ce }
 table { width: 100% } th { text-align: left; vertical-align: top; padding-right: 12px }
 .helptext { color: #666; font-size: 13px }
</style></head><body><div class="container">{% block content %}{% endblock %}</div>
</body></html>"""


def test_the_sms_setup_step_in_chromium(chromium, live_server, settings, tmp_path, xunchen_outbox):
    shots = Path(os.environ.get("XUNCHEN_SCREENSHOTS", "test-artifacts/screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    (tmp_path / "two_factor").mkdir()
    (tmp_path / "two_factor" / "_base.html").write_text(BASE)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    settings.TWO_FACTOR_SMS_GATEWAY = GATEWAY
    get_user_model().objects.create_user("alice", password="correct horse")

    context = chromium.new_context(viewport={"width": 800, "height": 340}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    base = live_server.url
    page.goto(f"{base}/2fa/account/login/")
    page.fill("input[name=auth-username]", "alice")
    page.fill("input[name=auth-password]", "correct horse")
    page.click("button.btn-primary")
    page.wait_for_load_state()

    page.goto(f"{base}/2fa/account/two_factor/setup/")
    page.click("button.btn-primary")  # welcome: Next
    page.check("input[name=method-method][value=sms]")
    page.click("button.btn-primary")
    page.fill("input[name=sms-number]", "+86 138 0013 8000")
    page.screenshot(path=shots / "two-factor-setup.png")

    page.click("button.btn-primary")
    page.wait_for_selector("input[name=validation-token]")
    assert "We sent you a text message" in page.inner_text("body")
    token = last_code("13800138000")
    assert token is not None
    assert [sent.mobiles for sent in xunchen_outbox] == [("13800138000",)]
    page.fill("input[name=validation-token]", token)
    page.click("button.btn-primary")
    page.wait_for_url(f"{base}/2fa/account/two_factor/setup/complete/")
    context.close()
