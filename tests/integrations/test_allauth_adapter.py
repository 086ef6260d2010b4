"""The django-allauth adapter (django_xunchen.integrations.allauth), method by method: the
test settings do not install allauth's apps, so its views do not run here (the example
project's browser test drives them: tests/project/test_allauth_phone.py). allauth's code
goes out through request_code, throttled and masked, with its own lifetime; a throttle's
refusal is allauth's rate-limit answer; the number is the mainland 11-digit form."""

import pytest
from django import forms
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ValidationError
from django.template import TemplateDoesNotExist
from django.test import RequestFactory
from django.urls import ResolverMatch
from django.utils import timezone

pytest.importorskip("allauth")

from allauth.core import context, exceptions

from django_xunchen.backends import locmem
from django_xunchen.exceptions import NotSentError
from django_xunchen.integrations import allauth as integration
from django_xunchen.integrations.allauth import (
    CodeThrottled,
    XunchenAccountAdapter,
)
from django_xunchen.models import Message, ThrottleEvent, VerificationCode

pytestmark = pytest.mark.django_db
NUMBER = "13800138000"
ADAPTER = "django_xunchen.integrations.allauth.XunchenAccountAdapter"


def post(url_name: str = "account_verify_phone", ip: str = "203.0.113.7"):
    request = RequestFactory().post("/accounts/", REMOTE_ADDR=ip)
    request.resolver_match = ResolverMatch(lambda r: None, (), {}, url_name=url_name)
    request._messages = CookieStorage(request)
    return request


def adapter_for(request) -> XunchenAccountAdapter:
    """As allauth makes it: the request from allauth's context, set by its middleware."""
    with context.request_context(request):
        return XunchenAccountAdapter()


def lifetime(record: VerificationCode) -> float:
    return (record.expires_at - timezone.now()).total_seconds()


def sent_texts() -> list[str]:
    return [sms.content for sms in locmem.outbox]


def test_the_code_goes_through_request_code_and_is_stored_masked(code_nowhere):
    adapter_for(post()).send_verification_code_sms(user=None, phone=NUMBER, code="482913")
    assert sent_texts() == ["您的验证码是482913，15分钟内有效，请勿告诉他人。"]
    message = Message.objects.get()
    assert message.content == "您的验证码是●●●●●●，15分钟内有效，请勿告诉他人。"
    assert message.masked and message.kind == "verification"
    record = VerificationCode.objects.get()
    assert (record.mobile, record.purpose, record.ip) == (NUMBER, "allauth.verify", "203.0.113.7")
    assert lifetime(record) == pytest.approx(15 * 60, abs=5)
    code_nowhere("482913")


def test_a_login_code_lives_for_allauths_login_code_timeout(settings, code_nowhere):
    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 120
    adapter = adapter_for(post("account_confirm_login_code"))
    adapter.send_verification_code_sms(None, NUMBER, "KXRB-TQMW", reauthentication=False)
    assert sent_texts() == ["您的验证码是KXRBTQMW，2分钟内有效，请勿告诉他人。"], (
        "allauth's readability dash is dropped: allauth ignores it when it compares"
    )
    record = VerificationCode.objects.get()
    assert record.purpose == "allauth.login"
    assert lifetime(record) == pytest.approx(120, abs=5)
    code_nowhere("KXRBTQMW")
    code_nowhere("KXRB-TQMW")


@pytest.mark.parametrize(
    ("url_name", "kwargs", "purpose"),
    [
        ("account_request_login_code", {}, "allauth.login"),  # allauth 65.5: no kwargs
        ("account_login", {"reauthentication": False}, "allauth.login"),
        ("account_request_reauthentication_code", {"reauthentication": True}, "allauth.reauth"),
        ("account_signup", {}, "allauth.verify"),
        ("account_change_phone", {}, "allauth.verify"),
    ],
)
def test_the_purpose_follows_allauths_flow(url_name, kwargs, purpose):
    adapter_for(post(url_name)).send_verification_code_sms(None, NUMBER, "482913", **kwargs)
    assert VerificationCode.objects.get().purpose == purpose


def test_a_second_code_within_the_cooldown_is_allauths_rate_limit_answer_and_not_sent():
    adapter = adapter_for(post())
    adapter.send_verification_code_sms(None, NUMBER, "482913")
    with pytest.raises(CodeThrottled) as refused:
        adapter_for(post()).send_verification_code_sms(None, "+86 138 0013 8000", "551207")
    assert isinstance(refused.value, exceptions.ImmediateHttpResponse), "the middleware answers"
    if hasattr(exceptions, "RateLimited"):  # not in 65.5
        assert isinstance(refused.value, exceptions.RateLimited), "the resend views catch it"
    response = refused.value.response
    assert response.status_code == 429
    assert 55 <= int(response["Retry-After"]) <= 60
    assert refused.value.retry_after == int(response["Retry-After"])
    assert len(locmem.outbox) == 1, "the second code was not sent"
    assert ThrottleEvent.objects.filter(reason="cooldown").count() == 1


def test_without_a_429_template_on_allauth_65_5_the_answer_is_still_a_429(monkeypatch):
    def no_template(request):
        raise TemplateDoesNotExist("429.html")

    monkeypatch.setattr(integration, "respond_429", no_template)
    adapter_for(post()).send_verification_code_sms(None, NUMBER, "482913")
    with pytest.raises(CodeThrottled) as refused:
        adapter_for(post()).send_verification_code_sms(None, NUMBER, "551207")
    response = refused.value.response
    assert response.status_code == 429
    assert response.content.decode().startswith("Too many codes asked for. Try again in ")
    assert response["Retry-After"]


def test_the_per_ip_throttle_counts_the_clients_address(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"IP_PER_HOUR": 1}}
    adapter_for(post(ip="198.51.100.4")).send_verification_code_sms(None, NUMBER, "482913")
    with pytest.raises(CodeThrottled):
        adapter_for(post(ip="198.51.100.4")).send_verification_code_sms(
            None, "13900139000", "551207"
        )
    adapter_for(post(ip="198.51.100.5")).send_verification_code_sms(None, "13900139000", "551207")
    assert len(locmem.outbox) == 2


def test_a_refused_sms_is_logged_and_told_to_the_user_not_raised(caplog):
    locmem.fail_next(NotSentError("connection refused"))
    request = post()
    adapter_for(request).send_verification_code_sms(None, NUMBER, "482913")
    assert not locmem.outbox
    assert Message.objects.get().status == Message.Status.FAILED
    assert [m.level for m in messages.get_messages(request)] == [messages.ERROR]
    assert "allauth.verify code for 13800138000 not sent" in caplog.text
    assert "482913" not in caplog.text


def test_the_notices_are_plain_texts_through_the_codes_throttles():
    adapter = adapter_for(post())
    adapter.send_unknown_account_sms("+86 13800138000")
    adapter_for(post()).send_account_already_exists_sms("13900139000")
    assert [sms.mobiles for sms in locmem.outbox] == [(NUMBER,), ("13900139000",)]
    assert "no account uses it" in locmem.outbox[0].content
    assert "already has an account" in locmem.outbox[1].content
    assert set(Message.objects.values_list("kind", flat=True)) == {"verification"}
    assert not VerificationCode.objects.exists(), "a notice is no code"
    assert ThrottleEvent.objects.filter(outcome=ThrottleEvent.Outcome.SENT).count() == 2


def test_a_number_without_an_account_is_answered_as_one_with_an_account():
    """A second request within the cooldown is the same 429 whether the number has an
    account (a code) or not (a notice): the answers do not tell which numbers have one."""
    answers = {}
    for number, first in (
        ("13800138000", lambda a, n: a.send_verification_code_sms(None, n, "482913")),
        ("13900139000", lambda a, n: a.send_unknown_account_sms(n)),
    ):
        first(adapter_for(post(ip="198.51.100.1")), number)
        with pytest.raises(CodeThrottled) as refused:
            first(adapter_for(post(ip="198.51.100.2")), number)
        answers[number] = (refused.value.response.status_code, refused.value.retry_after > 0)
    assert answers["13800138000"] == answers["13900139000"] == (429, True)
    assert len(locmem.outbox) == 2


def test_notices_count_towards_the_ip_and_volume_limits(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"IP_PER_HOUR": 3}}
    for n in range(3):
        adapter_for(post(ip="198.51.100.7")).send_unknown_account_sms(f"1390000000{n}")
    with pytest.raises(CodeThrottled):
        adapter_for(post(ip="198.51.100.7")).send_unknown_account_sms("13900000009")
    assert len(locmem.outbox) == 3


def test_allauth_is_refused_before_it_replaces_the_code_the_user_has():
    """allauth makes its new code before it asks for the SMS: within the cooldown the
    refusal comes first, and the code in allauth's state stays the one that was sent."""
    adapter_for(post()).send_verification_code_sms(None, NUMBER, "482913")
    with pytest.raises(CodeThrottled) as refused:
        adapter_for(post()).generate_phone_verification_code(user=None, phone=NUMBER)
    assert refused.value.response.status_code == 429
    code = adapter_for(post()).generate_phone_verification_code(user=None, phone="13900139000")
    assert code


def test_a_notice_that_cannot_be_sent_fails_nothing():
    locmem.fail_next(NotSentError("connection refused"))
    adapter_for(post()).send_unknown_account_sms(NUMBER)
    assert not locmem.outbox


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "008613800138000",
        "１３８００１３８０００",
    ],
)
def test_clean_phone_gives_the_mainland_11_digit_form(phone):
    assert adapter_for(post()).clean_phone(phone) == NUMBER


@pytest.mark.parametrize(
    "phone", ["+12025550100", "+447911123456", "12345", "23800138000", "+85291234567", ""]
)
def test_clean_phone_refuses_anything_else(phone):
    with pytest.raises(ValidationError) as refused:
        adapter_for(post()).clean_phone(phone)
    assert refused.value.code == "invalid_phone"
    assert "mainland China mobile number" in refused.value.messages[0]


def test_the_form_field_takes_the_number_as_people_in_china_write_it(settings):
    settings.ACCOUNT_ADAPTER = ADAPTER
    field = adapter_for(post()).phone_form_field(required=True)
    assert field.clean("138 0013 8000") == NUMBER, "no E.164 required"
    assert field.clean("+86 138-0013-8000") == NUMBER
    with pytest.raises(forms.ValidationError):
        field.clean("+1 202 555 0100")
