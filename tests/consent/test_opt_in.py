"""The double opt-in view: the number and a ticked box send a code; the right code
writes a grant with the wording, the address and the user agent."""

import pytest
from django.urls import reverse

from django_xunchen.models import Consent
from django_xunchen.testing import last_code

pytestmark = pytest.mark.django_db(transaction=True)
URL = reverse("django_xunchen:consent")
NUMBER = "13800138000"
AGENT = "Mozilla/5.0 (iPhone) test"


def ask(client, **data):
    return client.post(URL, {"step": "ask", "mobile": NUMBER, "consent": "on", **data})


def test_the_right_code_writes_the_grant(client, xunchen_outbox):
    page = client.get(URL).content.decode()
    assert "I agree to receive marketing SMS" in page and 'name="consent"' in page
    assert ask(client).status_code == 200
    code = last_code(NUMBER)
    assert code and not Consent.objects.exists(), "no grant before the code comes back"
    done = client.post(
        URL,
        {"step": "confirm", "mobile": NUMBER, "code": code},
        HTTP_USER_AGENT=AGENT,
        REMOTE_ADDR="198.51.100.7",
    )
    assert done.status_code == 200 and 'id="consent-done"' in done.content.decode()
    (entry,) = Consent.objects.all()
    assert (entry.granted, entry.source, entry.scope) == (True, "opt_in", "marketing")
    assert entry.wording.startswith("I agree to receive marketing SMS")
    assert (entry.ip, entry.user_agent) == ("198.51.100.7", AGENT)


def test_no_tick_no_code_and_a_wrong_code_no_grant(client, xunchen_outbox):
    refused = client.post(URL, {"step": "ask", "mobile": NUMBER})
    assert refused.status_code == 400 and not xunchen_outbox, "the box must be ticked"
    ask(client)
    wrong = "000000" if last_code(NUMBER) != "000000" else "111111"
    answer = client.post(URL, {"step": "confirm", "mobile": NUMBER, "code": wrong})
    assert answer.status_code == 400 and "The code is wrong." in answer.content.decode()
    assert not Consent.objects.exists()


def test_the_wording_is_the_sites_and_in_the_pages_language(client, settings, xunchen_outbox):
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "我同意接收本网站的营销短信" in page
    settings.XUNCHEN = {**settings.XUNCHEN, "CONSENT_WORDING": "我愿意收到某某书店的新书通知。"}
    ask(client)
    client.post(URL, {"step": "confirm", "mobile": NUMBER, "code": last_code(NUMBER)})
    assert Consent.objects.get().wording == "我愿意收到某某书店的新书通知。"


@pytest.mark.parametrize(
    "data",
    [
        {"step": "ask", "mobile": "1" * 5000, "consent": "on"},
        {"step": "ask", "mobile": "not a number", "consent": "on"},
        {"step": "confirm", "mobile": NUMBER, "code": "12\x0034"},
        {"step": "confirm", "mobile": "<script>", "code": "123456"},
        {"step": "nonsense"},
    ],
)
def test_hostile_input_is_a_400_that_writes_nothing(client, xunchen_outbox, data):
    answer = client.post(URL, data)
    assert answer.status_code in (400, 413)
    assert not Consent.objects.exists() and not xunchen_outbox


def test_a_garbage_content_length_is_refused(client):
    answer = client.generic(
        "POST",
        URL,
        b"step=ask",
        CONTENT_LENGTH="x",
        CONTENT_TYPE="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 400


def test_a_double_click_on_send_still_leads_to_the_code(client, xunchen_outbox):
    """The browser shows the second answer: the cooldown must not strand the person on
    an error while the first click's code is on its way."""
    ask(client)
    second = ask(client)
    page = second.content.decode()
    assert second.status_code == 200 and 'id="consent-notice"' in page
    assert 'name="code"' in page and len(xunchen_outbox) == 1, "no second SMS"
    client.post(URL, {"step": "confirm", "mobile": NUMBER, "code": last_code(NUMBER)})
    assert Consent.objects.get().source == "opt_in"


def test_a_login_code_moments_before_is_no_consent_code(client, xunchen_outbox):
    from django_xunchen.verification import request_code

    request_code(NUMBER, "login")
    answer = ask(client)
    assert answer.status_code == 429 and 'name="code"' not in answer.content.decode()
