"""django-two-factor-auth's SMS method through the app (django_xunchen.integrations.two_factor):
a user sets up the SMS method and logs in with it, in two-factor's own views, driven by
Django's test client; the token goes through request_code's throttles and is stored in
no table."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse

from django_xunchen.integrations.two_factor import (
    TOKEN_TTL,
    RequestMiddleware,
    UnsupportedNumberError,
    XunchenGateway,
)
from django_xunchen.models import Message, ThrottleEvent, VerificationCode

GATEWAY = "django_xunchen.integrations.two_factor.XunchenGateway"
MIDDLEWARE = "django_xunchen.integrations.two_factor.RequestMiddleware"
MOBILE = "13800138000"
FOREIGN = "+16502530000"  # a valid US number: two-factor's form accepts it, the app cannot


@pytest.fixture
def two_factor(settings, xunchen_outbox):
    """two-factor with the SMS method on the app's gateway, the request middleware, and
    the app's default code throttles (a 60-second cooldown per number)."""
    settings.TWO_FACTOR_SMS_GATEWAY = GATEWAY
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    settings.LOGIN_URL = "two_factor:login"
    settings.LOGIN_REDIRECT_URL = "/done/"
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"COOLDOWN": 60}}
    return xunchen_outbox


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="correct horse")


def step(client, url, wizard, current, **fields):
    """POST one wizard step: formtools prefixes each field with the step's name."""
    data = {f"{wizard}-current_step": current}
    data.update({f"{current}-{name}": value for name, value in fields.items()})
    return client.post(url, data)


def shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def set_up_sms(client, number: str):
    """two-factor's setup wizard up to the validation step (the challenge is sent)."""
    url = reverse("two_factor:setup")
    assert client.get(url).status_code == 200
    step(client, url, "setup_view", "welcome")
    step(client, url, "setup_view", "method", method="sms")
    return step(client, url, "setup_view", "sms", number=number)


def test_setup_and_login_by_sms_through_the_app(
    client, user, two_factor, xunchen_last_code, code_nowhere
):
    outbox = two_factor
    client.force_login(user)
    setup = reverse("two_factor:setup")

    # Setup: the number step sends the token, through the app, to that number only.
    response = set_up_sms(client, "+86 138 0013 8000")
    assert response.status_code == 200
    assert response.context["challenge_succeeded"] is True
    assert [sent.mobiles for sent in outbox] == [(MOBILE,)]
    token = xunchen_last_code(MOBILE)
    assert token is not None
    code_nowhere(token)
    message = Message.objects.get()
    assert message.mobile == MOBILE
    assert message.kind == Message.Kind.VERIFICATION
    assert message.masked is True
    assert "●" * len(token) in message.content
    assert token not in message.content
    code = VerificationCode.objects.get()
    assert code.purpose == "two_factor"
    # The middleware gave the gateway the client's address: the per-IP throttle counts it.
    assert ThrottleEvent.objects.get().ip == "127.0.0.1"
    lifetime = code.expires_at - code.created_at
    assert abs(lifetime - dt.timedelta(seconds=TOKEN_TTL)) < dt.timedelta(seconds=1)
    assert "2分钟" in message.content  # the text's {minutes}: two-factor's window

    # The user goes back and asks again within the cooldown: the app sends nothing, and
    # says why through the messages framework (the wizard itself does not 500).
    again = step(client, setup, "setup_view", "sms", number="+8613800138000")
    assert again.status_code == 200
    assert len(outbox) == 1
    assert any("Please wait" in text for text in shown(again))
    assert ThrottleEvent.objects.filter(outcome=ThrottleEvent.Outcome.THROTTLED).count() == 1

    # The token that came by SMS completes the setup.
    done = step(client, setup, "setup_view", "validation", token=token)
    assert done.status_code == 302, done.context and done.context["form"].errors
    assert done.url == reverse("two_factor:setup_complete")
    from two_factor.plugins.phonenumber.models import PhoneDevice

    device = PhoneDevice.objects.get(user=user)
    assert device.method == "sms"
    assert str(device.number.national_number) == MOBILE
    code_nowhere(token)

    # A second challenge within the cooldown sends nothing.
    device.generate_challenge()
    assert len(outbox) == 1

    # Log out; log in a little over a cooldown later: password, then the SMS token.
    client.logout()
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=61)
    with time_machine.travel(later, tick=True):
        login = reverse("two_factor:login")
        assert client.get(login).status_code == 200
        response = step(
            client, login, "login_view", "auth", username="alice", password="correct horse"
        )
        assert response.status_code == 200
        assert response.context["wizard"]["steps"].current == "token"
        assert len(outbox) == 2
        assert outbox[-1].mobiles == (MOBILE,)
        login_token = xunchen_last_code(MOBILE)
        assert login_token is not None
        code_nowhere(login_token)

        response = step(client, login, "login_view", "token", otp_token=login_token)
        assert response.status_code == 302, response.context and response.context["form"].errors
        assert response.url == "/done/"
        code_nowhere(login_token)
        code_nowhere(token)

        # Verified: the profile page, which asks for a verified user, answers.
        assert client.get(reverse("two_factor:profile")).status_code == 200

        # A backup phone outside mainland China: the backup-phone wizard does not catch
        # the gateway's error; the middleware makes it a message and a redirect, no 500.
        phone = reverse("two_factor:phone_create")
        response = step(client, phone, "phone_setup_view", "setup", number=FOREIGN, method="sms")
        assert response.status_code == 302
        assert response.url == phone
        assert any("+86" in text for text in shown(response))
        assert len(outbox) == 2

    assert Message.objects.count() == 2
    assert set(Message.objects.values_list("kind", "masked")) == {("verification", True)}


def test_a_foreign_number_is_refused_at_setup_without_a_500(client, user, two_factor, caplog):
    client.force_login(user)
    with caplog.at_level(logging.WARNING):
        response = set_up_sms(client, FOREIGN)
    assert response.status_code == 200
    # two-factor's setup wizard caught the gateway's error: it says the challenge failed
    # instead of asking for a token that never comes; the app's message says why.
    assert response.context["challenge_succeeded"] is False
    assert "encountered an issue" in response.content.decode()
    assert any("+86" in text for text in shown(response))
    assert two_factor == []
    assert not Message.objects.exists()
    assert not VerificationCode.objects.exists()
    assert any("two-factor token not sent" in r.getMessage() for r in caplog.records)


def test_the_gateway_without_the_middleware(db, two_factor, settings, caplog):
    """No request reachable: no IP, no message; throttles still apply, nothing raises
    at login for a throttled or foreign number, and the log never shows the token."""
    from phonenumber_field.phonenumber import PhoneNumber
    from two_factor.plugins.phonenumber.models import PhoneDevice

    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    owner = get_user_model().objects.create_user("bob")
    device = PhoneDevice.objects.create(
        user=owner, name="default", method="sms", number=PhoneNumber.from_string("+8613900139000")
    )
    gateway = XunchenGateway()
    with caplog.at_level(logging.DEBUG):
        gateway.send_sms(device=device, token="123456")
        gateway.send_sms(device=device, token="654321")  # within the cooldown
    assert [sent.mobiles for sent in two_factor] == [("13900139000",)]
    assert ThrottleEvent.objects.get(outcome="sent").ip is None  # not counted per IP
    assert "654321" not in caplog.text and "123456" not in caplog.text
    assert "throttled" in caplog.text

    # A saved device with a foreign number (set up with another gateway): logged, no raise.
    device.number = PhoneNumber.from_string(FOREIGN)
    gateway.send_sms(device=device, token="111111")
    # An unsaved one (being set up) raises the app's error, with neither number nor token.
    unsaved = PhoneDevice(user=owner, method="sms", number=PhoneNumber.from_string(FOREIGN))
    with pytest.raises(UnsupportedNumberError) as raised:
        gateway.send_sms(device=unsaved, token="222222")
    assert "222222" not in str(raised.value) and "6502530000" not in str(raised.value)
    assert len(two_factor) == 1


def test_a_failed_send_is_logged_and_not_raised(db, two_factor, monkeypatch, caplog):
    """The gateway refused the SMS: two-factor's login view must not get an exception."""
    from phonenumber_field.phonenumber import PhoneNumber
    from two_factor.plugins.phonenumber.models import PhoneDevice

    from django_xunchen.exceptions import ContentRejectedError
    from django_xunchen.integrations import two_factor as module
    from django_xunchen.verification import CodeRequest, RequestStatus

    failed = CodeRequest(RequestStatus.FAILED, error=ContentRejectedError("105", "send"))
    monkeypatch.setattr(module, "request_code", lambda *args, **kwargs: failed)
    device = PhoneDevice(number=PhoneNumber.from_string("+8613900139000"), method="sms")
    with caplog.at_level(logging.WARNING):
        XunchenGateway().send_sms(device=device, token="123456")
    assert "failed (ContentRejectedError)" in caplog.text
    assert "123456" not in caplog.text


def test_calls_are_refused(db):
    with pytest.raises(NotImplementedError, match="text messages only"):
        XunchenGateway().make_call(device=object(), token="123456")


def test_the_middleware_forgets_the_request(rf):
    from django_xunchen.integrations.two_factor import current_request

    request = rf.get("/")
    seen = []
    RequestMiddleware(lambda r: seen.append(current_request()) or None)(request)
    assert seen == [request]
    assert current_request() is None
