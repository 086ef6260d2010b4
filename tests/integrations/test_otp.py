"""django-otp's SMSDevice: its token is a code the app sends by SMS and checks, never
stored in clear; the app's throttles stand in front of a challenge, django-otp's behind a
wrong token; each device's codes are its own."""

from __future__ import annotations

import datetime as dt

import django_otp
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import path, reverse
from django_otp.forms import OTPAuthenticationForm
from django_otp.middleware import OTPMiddleware
from django_otp.models import GenerateNotAllowed, VerifyNotAllowed

from django_xunchen.integrations.otp import models as otp_models
from django_xunchen.integrations.otp.models import SMSDevice
from django_xunchen.models import Message, ThrottleEvent, VerificationCode
from django_xunchen.verification import CodeRequest, RequestStatus, request_code

pytestmark = pytest.mark.django_db
#: The admin alone (the admin tests below): these tests do not depend on tests/urls.py.
urlpatterns = [path("admin/", admin.site.urls)]
ADMIN_ONLY = pytest.mark.urls(__name__)
NUMBER = "13800138000"
SHOWN = "138****8000"


@pytest.fixture
def verification(settings, xunchen_outbox):
    """No cooldown unless a test asks for one; the app's other limits as they are."""

    def configure(**values):
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"COOLDOWN": 0, **values}}

    configure()
    return configure


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-1")


@pytest.fixture
def device(user, verification):
    return SMSDevice.objects.create(user=user, name="phone", number="+86 138-0013-8000")


def wrong(code: str) -> str:
    """A code of the same length that is not ``code``."""
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def fresh(device: SMSDevice) -> SMSDevice:
    return SMSDevice.objects.get(pk=device.pk)


# ------------------------------------------------------------------ the number


def test_the_number_is_kept_as_its_eleven_digits(device):
    assert fresh(device).number == NUMBER


@pytest.mark.parametrize("number", ["+1 415 555 0100", "12345", "010-12345678", ""])
def test_a_number_that_is_not_a_mainland_mobile_is_refused(user, number):
    device = SMSDevice(user=user, name="phone", number=number)
    with pytest.raises(ValidationError) as caught:
        device.full_clean()
    assert "number" in caught.value.message_dict
    with pytest.raises(ValidationError):
        device.save()
    assert not SMSDevice.objects.exists()


def test_full_clean_normalises_the_number(user):
    device = SMSDevice(user=user, name="phone", number="+86 138 0013 8000")
    device.full_clean()
    assert device.number == NUMBER


def test_an_unsaved_device_sends_nothing(user, xunchen_outbox):
    device = SMSDevice(user=user, name="phone", number=NUMBER)
    with pytest.raises(ValueError, match="save the device"):
        device.generate_challenge()
    assert xunchen_outbox == []


# ------------------------------------------------------------------ the challenge


def test_a_challenge_sends_the_code_by_sms_and_stores_it_masked(
    device, xunchen_outbox, xunchen_last_code, code_nowhere
):
    assert device.is_interactive()
    said = device.generate_challenge()
    assert said == f"sent a code by SMS to {SHOWN}"
    assert NUMBER not in said
    assert len(xunchen_outbox) == 1 and tuple(xunchen_outbox[0].mobiles) == (NUMBER,)
    code = xunchen_last_code(NUMBER)
    assert code and code in xunchen_outbox[0].content
    message = Message.objects.get()
    assert (message.mobile, message.kind, message.masked) == (NUMBER, "verification", True)
    assert code not in message.content and "●" in message.content
    record = VerificationCode.objects.get()
    assert record.purpose == f"otp.{device.pk}"
    code_nowhere(code)
    assert device.verify_token(code)
    code_nowhere(code)


def test_the_client_ip_goes_to_the_apps_per_ip_limit(device):
    device.generate_challenge(ip="203.0.113.7")
    assert VerificationCode.objects.get().ip == "203.0.113.7"
    assert ThrottleEvent.objects.get().ip == "203.0.113.7"


def test_the_apps_cooldown_refuses_a_second_challenge(device, verification, xunchen_outbox):
    verification(COOLDOWN=60)
    assert device.generate_is_allowed() == (True, None)
    device.generate_challenge()
    allowed, data = device.generate_is_allowed()
    assert not allowed
    assert data["reason"] == GenerateNotAllowed.COOLDOWN_DURATION_PENDING
    assert 0 < data["retry_after"] <= 60
    assert data["next_generation_at"] > dt.datetime.now(dt.timezone.utc)
    said = device.generate_challenge()
    assert said.startswith("no code sent: wait ") and said.endswith(
        " seconds before asking for another one"
    )
    seconds = int(said.split()[4])
    assert 0 < seconds <= 60
    assert len(xunchen_outbox) == 1
    outcomes = ThrottleEvent.objects.order_by("id").values_list("outcome", "reason")
    assert [o for o, _ in outcomes] == ["sent", "throttled"]
    assert list(outcomes)[1][1] == ThrottleEvent.Reason.COOLDOWN


def test_a_send_that_failed_says_so(device, monkeypatch):
    failed = CodeRequest(RequestStatus.FAILED)
    monkeypatch.setattr(otp_models, "request_code", lambda *a, **k: failed)
    assert device.generate_challenge() == "the SMS could not be sent; try again later"


# ------------------------------------------------------------------ the check


def test_the_right_token_verifies_once(device, xunchen_last_code):
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    assert device.verify_token(f" {code} ")
    device = fresh(device)
    assert device.throttling_failure_count == 0 and device.last_used_at is not None
    assert not device.verify_token(code)


def test_a_wrong_token_throttles_even_the_right_one(device, xunchen_last_code):
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    assert not device.verify_token(wrong(code))
    device = fresh(device)
    assert device.throttling_failure_count == 1
    allowed, data = device.verify_is_allowed()
    assert not allowed and data["reason"] == VerifyNotAllowed.N_FAILED_ATTEMPTS
    # Refused while throttled, and the code is not touched: one attempt spent, not two.
    assert not device.verify_token(code)
    assert VerificationCode.objects.get().attempts == 1
    assert fresh(device).throttling_failure_count == 1
    # Once the wait (1 s after one wrong token) is over, the right token works.
    SMSDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp - dt.timedelta(seconds=2)
    )
    device = fresh(device)
    assert device.verify_token(code)
    assert fresh(device).throttling_failure_count == 0


def test_django_otps_throttle_doubles(device, xunchen_last_code):
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    assert not device.verify_token(wrong(code))
    SMSDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=fresh(device).throttling_failure_timestamp
        - dt.timedelta(seconds=2)
    )
    assert not fresh(device).verify_token(wrong(code))
    device = fresh(device)
    assert device.throttling_failure_count == 2
    _, data = device.verify_is_allowed()
    waited = data["locked_until"] - device.throttling_failure_timestamp
    assert waited == dt.timedelta(seconds=2)


def test_with_factor_zero_only_the_apps_attempts_limit_holds(device, settings, xunchen_last_code):
    settings.XUNCHEN_OTP_THROTTLE_FACTOR = 0
    device = fresh(device)
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    assert not device.verify_token(wrong(code))
    assert device.verify_token(code)


@pytest.mark.parametrize(
    "token", [None, 123456, b"123456", "", "   ", "abcdef", "12 34 56", "１２３４５６", "123"]
)
def test_a_token_that_is_not_digits_is_simply_false(
    device, token, xunchen_last_code, django_assert_num_queries
):
    device.generate_challenge()
    with django_assert_num_queries(0):
        assert device.verify_token(token) is False
    assert fresh(device).throttling_failure_count == 0
    assert VerificationCode.objects.get().attempts == 0
    assert device.verify_token(xunchen_last_code(NUMBER))


def test_without_a_code_every_token_is_false(device):
    assert not device.verify_token("123456")
    assert fresh(device).throttling_failure_count == 1


def test_two_devices_on_one_number_do_not_accept_each_others_codes(
    device, user, django_user_model, xunchen_last_code
):
    other_user = django_user_model.objects.create_user("bob")
    other = SMSDevice.objects.create(user=other_user, name="bob's phone", number=NUMBER)
    device.generate_challenge()
    mine = xunchen_last_code(NUMBER)
    assert not other.verify_token(mine)
    other.generate_challenge()
    theirs = xunchen_last_code(NUMBER)
    assert not fresh(device).verify_token(theirs)
    # Each is refused by the other without spending the owner's code.
    SMSDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert fresh(device).verify_token(mine)
    assert fresh(other).verify_token(theirs)


def test_a_login_code_for_the_number_is_no_token(device, xunchen_last_code):
    assert request_code(NUMBER, "login").sent
    assert not device.verify_token(xunchen_last_code(NUMBER))


# ------------------------------------------------------------------ django-otp's flows


def test_django_otp_verify_token_and_match_token(device, user, xunchen_last_code):
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    assert django_otp.verify_token(user, device.persistent_id, code) == device
    assert django_otp.match_token(user, code) is None  # single use
    SMSDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    device.generate_challenge()
    assert django_otp.match_token(user, xunchen_last_code(NUMBER)) == device


def test_the_otp_login_form_challenges_then_verifies(device, user, rf, xunchen_last_code):
    def form(**otp):
        data = {"username": "alice", "password": "pw-alice-1", "otp_device": device.persistent_id}
        request = rf.post("/login/")
        return OTPAuthenticationForm(request, data={**data, **otp})

    challenged = form(otp_challenge="1")
    assert not challenged.is_valid()
    assert f"OTP Challenge: sent a code by SMS to {SHOWN}" in str(challenged.errors)
    refused = form(otp_token=wrong(xunchen_last_code(NUMBER)))
    assert not refused.is_valid()
    SMSDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    accepted = form(otp_token=xunchen_last_code(NUMBER))
    assert accepted.is_valid(), accepted.errors
    assert accepted.get_user().otp_device == device


def test_django_otp_login_marks_the_session_verified(device, user, rf, xunchen_last_code):
    request = rf.get("/")
    SessionMiddleware(lambda r: None).process_request(request)
    request.user = user
    device.generate_challenge()
    assert device.verify_token(xunchen_last_code(NUMBER))
    django_otp.login(request, device)
    assert request.session[django_otp.DEVICE_ID_SESSION_KEY] == device.persistent_id
    later = rf.get("/")
    later.session = request.session
    later.user = user
    OTPMiddleware(lambda r: None)(later)
    assert later.user.is_verified()
    assert later.user.otp_device == device


# ------------------------------------------------------------------ the admin


@ADMIN_ONLY
def test_the_admin_shows_the_number_and_no_token(device, admin_client, xunchen_last_code):
    device.generate_challenge()
    code = xunchen_last_code(NUMBER)
    listing = admin_client.get(reverse("admin:xunchen_otp_smsdevice_changelist"))
    assert listing.status_code == 200
    assert NUMBER in listing.content.decode()
    page = admin_client.get(reverse("admin:xunchen_otp_smsdevice_change", args=[device.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert NUMBER in html and "Wrong tokens" in html
    for shown in (listing.content.decode(), html):
        assert code not in shown
    found = admin_client.get(
        reverse("admin:xunchen_otp_smsdevice_changelist"), {"q": "8000"}
    ).content.decode()
    assert NUMBER in found


@ADMIN_ONLY
def test_the_admin_adds_a_device_with_the_number_normalised(admin_client, user):
    response = admin_client.post(
        reverse("admin:xunchen_otp_smsdevice_add"),
        {"user": user.pk, "name": "phone", "confirmed": "on", "number": "+86 138-0013-8000"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SMSDevice.objects.get().number == NUMBER
    refused = admin_client.post(
        reverse("admin:xunchen_otp_smsdevice_add"),
        {"user": user.pk, "name": "phone", "confirmed": "on", "number": "+1 415 555 0100"},
    )
    assert refused.status_code == 200
    assert "Enter a mainland China mobile number" in refused.content.decode()
    assert SMSDevice.objects.count() == 1


@ADMIN_ONLY
@pytest.mark.parametrize(
    ("codename", "sees", "changes"),
    [
        (None, False, False),
        ("view_smsdevice", True, False),
        ("change_smsdevice", True, True),
    ],
)
def test_the_admin_doors_need_their_permission(device, django_user_model, codename, sees, changes):
    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    if codename:
        staff.user_permissions.add(
            Permission.objects.get(content_type__app_label="xunchen_otp", codename=codename)
        )
    client = Client()
    client.force_login(staff)
    listing = client.get(reverse("admin:xunchen_otp_smsdevice_changelist"))
    assert listing.status_code == (200 if sees else 403)
    change = reverse("admin:xunchen_otp_smsdevice_change", args=[device.pk])
    client.post(change, {"user": device.user_id, "name": "renamed", "number": NUMBER})
    assert (fresh(device).name == "renamed") is changes
    assert client.get(reverse("admin:xunchen_otp_smsdevice_add")).status_code == 403


def test_the_app_and_model_names_are_marked_for_translation():
    from django.apps import apps
    from django.utils.functional import Promise

    config = apps.get_app_config("xunchen_otp")
    meta = SMSDevice._meta
    names = [config.verbose_name, meta.verbose_name, meta.verbose_name_plural]
    names += [meta.get_field("number").verbose_name, meta.get_field("number").help_text]
    assert all(isinstance(name, Promise) for name in names)
    assert [str(n) for n in names[:3]] == ["SMS one-time passwords", "SMS device", "SMS devices"]
