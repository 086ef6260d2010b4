"""Verification codes: brute force, bombing, pumping, replay, and no plain code anywhere."""

import datetime as dt
import logging

import pytest
from django.core import serializers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_xunchen import resend, send_queued
from django_xunchen.backends import locmem
from django_xunchen.exceptions import NotSentError, XunchenValidationError
from django_xunchen.models import Message, ThrottleEvent, VerificationCode
from django_xunchen.testing import last_code
from django_xunchen.verification.codes import (
    CheckStatus,
    RequestStatus,
    check_code,
    client_ip,
    request_code,
)
from django_xunchen.verification.throttles import lift_throttles

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
S = Message.Status


@pytest.fixture
def codes(settings):
    """No cooldown, so that a test can ask twice; other limits at their defaults."""

    def configure(**verification):
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": verification}

    configure(COOLDOWN=0)
    return configure


@pytest.fixture
def signals():
    from django_xunchen import signals as module

    names = ["code_requested", "code_throttled", "code_verified", "code_failed"]
    names.append("code_volume_alarm")
    got = []
    handlers = []
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            got.append((_name, kwargs))

        getattr(module, name).connect(handler, weak=False)
        handlers.append((name, handler))
    yield got
    for name, handler in handlers:
        getattr(module, name).disconnect(handler)


def test_a_code_is_sent_as_a_masked_verification_message(xunchen_outbox, signals):
    result = request_code(NUMBER, "login", ip="203.0.113.7")
    assert result.status == RequestStatus.SENT and result.retry_after == 60
    code = last_code(NUMBER)
    assert code is not None and len(code) == 6 and code.isdigit()
    assert code in xunchen_outbox[0].content
    message = Message.objects.get()
    assert (message.kind, message.status, message.masked) == ("verification", S.SENT, True)
    assert code not in message.content and "●●●●●●" in message.content
    assert [n for n, _ in signals] == ["code_requested"]
    assert check_code(NUMBER, code, "login").verified
    assert [n for n, _ in signals] == ["code_requested", "code_verified"]


def test_guessing_beyond_the_limit_fails_even_with_the_right_code(xunchen_outbox):
    request_code(NUMBER)
    code = last_code(NUMBER)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    lefts = [check_code(NUMBER, wrong) for _ in range(5)]
    assert [c.status for c in lefts] == [CheckStatus.WRONG] * 4 + [CheckStatus.WRONG]
    assert [c.attempts_left for c in lefts] == [4, 3, 2, 1, 0]
    assert check_code(NUMBER, code).status == CheckStatus.TOO_MANY_ATTEMPTS
    assert VerificationCode.objects.get().state == VerificationCode.State.DEAD


def test_a_used_code_cannot_be_replayed(xunchen_outbox):
    request_code(NUMBER)
    code = last_code(NUMBER)
    assert check_code(NUMBER, code).verified
    assert check_code(NUMBER, code).status == CheckStatus.NO_CODE


def test_an_expired_code_fails(xunchen_outbox):
    request_code(NUMBER)
    VerificationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert check_code(NUMBER, last_code(NUMBER)).status == CheckStatus.EXPIRED


def test_a_code_is_for_its_number_and_purpose(xunchen_outbox):
    request_code(NUMBER, "signup")
    code = last_code(NUMBER)
    assert check_code(NUMBER, code, "login").status == CheckStatus.NO_CODE
    assert check_code("13900139000", code, "signup").status == CheckStatus.NO_CODE
    assert check_code(NUMBER, code, "signup").verified


def test_a_second_request_sends_the_same_live_code(codes, xunchen_outbox):
    request_code(NUMBER)
    first = last_code(NUMBER)
    request_code(NUMBER)
    assert last_code(NUMBER) == first and len(xunchen_outbox) == 2
    assert VerificationCode.objects.get().sends == 2
    assert check_code(NUMBER, first).verified
    request_code(NUMBER)
    assert VerificationCode.objects.count() == 2, "a used code is replaced"


def test_a_code_past_half_its_life_is_replaced(codes, xunchen_outbox):
    request_code(NUMBER)
    first = last_code(NUMBER)
    VerificationCode.objects.update(expires_at=timezone.now() + dt.timedelta(seconds=100))
    request_code(NUMBER)
    assert check_code(NUMBER, first).status == CheckStatus.WRONG
    assert check_code(NUMBER, last_code(NUMBER)).verified


@pytest.mark.parametrize(
    "bad",
    [
        {"mobile": "12345"},
        {"mobile": ["13800138000", "13900139000"]},
        {"purpose": "Log In"},
        {"purpose": ""},
        {"ip": "not-an-ip"},
    ],
)
def test_bad_input_is_refused_before_anything_is_written(xunchen_outbox, bad):
    args = {"mobile": NUMBER, "purpose": "login", **bad}
    with pytest.raises(XunchenValidationError):
        request_code(args["mobile"], args["purpose"], ip=args.get("ip"))
    assert not Message.objects.exists() and not ThrottleEvent.objects.exists()
    assert not xunchen_outbox


# ----------------------------------------------------------------------- throttles


def test_the_resend_cooldown(xunchen_outbox, signals):
    assert request_code(NUMBER).sent
    again = request_code(NUMBER, "reset")
    assert (again.status, again.reason) == (RequestStatus.THROTTLED, "cooldown")
    assert 55 <= again.retry_after <= 60
    assert len(xunchen_outbox) == 1
    assert signals[-1][0] == "code_throttled" and signals[-1][1]["reason"] == "cooldown"


def test_per_hour_and_per_day_per_number(codes, xunchen_outbox):
    results = [request_code(NUMBER, purpose) for purpose in ["login", "signup", "reset"] * 2]
    assert [r.status for r in results] == [RequestStatus.SENT] * 5 + [RequestStatus.THROTTLED]
    assert results[-1].reason == "hourly" and results[-1].retry_after > 3000
    ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(hours=2))
    more = [request_code(NUMBER) for _ in range(6)]
    assert [r.status for r in more].count(RequestStatus.SENT) == 5
    assert more[-1].reason == "daily"
    assert len(xunchen_outbox) == 10


def test_per_ip(codes, xunchen_outbox):
    codes(COOLDOWN=0, IP_PER_HOUR=3)
    results = [request_code(f"1380013800{i}", ip="198.51.100.4") for i in range(4)]
    assert [r.reason for r in results] == ["", "", "", "ip"]
    assert request_code("13800138009", ip="198.51.100.5").sent


def test_a_prefix_surge_blocks_the_prefix_for_a_while(codes, xunchen_outbox):
    codes(COOLDOWN=0, PREFIX_LIMIT=3, PREFIX_WINDOW=600, PREFIX_BLOCK=1800)
    results = [request_code(f"1380013800{i}") for i in range(4)]
    assert [r.reason for r in results] == ["", "", "", "prefix"]
    assert results[-1].retry_after == 1800
    ThrottleEvent.objects.update(at=timezone.now() - dt.timedelta(hours=1))
    blocked = request_code("13800138009")
    assert blocked.reason == "prefix" and 1790 <= blocked.retry_after <= 1800
    assert request_code("13900139000").sent, "other prefixes are not blocked"


def test_the_daily_volume_alarm_alerts_and_blocks_only_when_asked(
    codes, xunchen_outbox, signals, caplog
):
    codes(COOLDOWN=0, DAILY_ALARM=2)
    for i in range(3):
        assert request_code(f"1380013800{i}").sent
    alarms = [kw for name, kw in signals if name == "code_volume_alarm"]
    assert alarms == [{"volume": 2, "threshold": 2}]
    assert any("SMS pumping" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    codes(COOLDOWN=0, DAILY_ALARM=2, DAILY_BLOCK=True)
    blocked = request_code("13800138005")
    assert blocked.reason == "volume" and blocked.retry_after > 0
    assert len(xunchen_outbox) == 3


def test_staff_can_lift_a_number_s_throttle(xunchen_outbox):
    request_code(NUMBER)
    assert request_code(NUMBER).reason == "cooldown"
    assert lift_throttles([NUMBER]) == 1
    assert request_code(NUMBER).sent


def test_the_client_ip_behind_a_trusted_proxy(settings, rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2"
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {"TRUSTED_PROXY_HEADER": "HTTP_X_FORWARDED_FOR", "TRUSTED_PROXY_HOPS": 1},
    }
    assert client_ip(request) == "203.0.113.9", "read from the right: the client wrote 6.6.6.6"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 2
    assert client_ip(request) == "6.6.6.6"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 3
    assert client_ip(request) == "10.0.0.2"


# ----------------------------------------------------------------------- never again from a row


def test_a_code_that_certainly_did_not_go_out_fails_and_is_never_queued(xunchen_outbox):
    locmem.fail_next(NotSentError("connection refused"))
    result = request_code(NUMBER)
    assert result.status == RequestStatus.FAILED
    message = Message.objects.get()
    assert message.status == S.FAILED
    assert send_queued()["claimed"] == 0
    assert resend([message]) == ([], [message])
    assert not xunchen_outbox


def test_receivers_of_a_code_that_did_not_go_out_get_the_error_itself(xunchen_outbox, events):
    refused = NotSentError("connection refused")
    locmem.fail_next(refused)
    request_code(NUMBER)
    assert [(name, kwargs["error"]) for name, kwargs in events] == [("message_failed", refused)]


def test_a_masked_row_left_queued_is_failed_not_sent(xunchen_outbox):
    Message.objects.create(mobile=NUMBER, content="验证码●●●●●●", kind="verification", masked=True)
    assert send_queued()["sent"] == 0
    assert Message.objects.get().status == S.FAILED
    assert not xunchen_outbox


def test_a_code_falls_back_within_the_call(settings, xunchen_outbox):
    backend = "django_xunchen.backends.locmem.SMSBackend"
    settings.XUNCHEN = {
        "SPOOL_DIR": settings.XUNCHEN["SPOOL_DIR"],
        "BACKEND": backend,
        "ACCOUNTS": {
            "default": {"USERNAME": "N", "KINDS": ["notification", "verification"]},
            "codes": {"USERNAME": "C", "FALLBACK": "default"},
        },
        "ROUTES": {"verification": "codes"},
    }
    locmem.fail_next(NotSentError("refused"), account="codes")
    assert request_code(NUMBER).sent
    assert [s.account for s in xunchen_outbox] == ["default"]
    assert Message.objects.get().account == "default"
    assert check_code(NUMBER, last_code(NUMBER)).verified


def test_a_template_code(settings, xunchen_outbox):
    from django_xunchen.models import Template

    Template.objects.create(template_id="CODE-1", name="code", body="验证码@1@，@2@分钟内有效")
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"TEMPLATE": "CODE-1"}}
    request_code(NUMBER)
    code = last_code(NUMBER)
    assert dict(xunchen_outbox[0].request.params) == {1: code, 2: "5"}
    message = Message.objects.get()
    assert message.params == {"1": "●●●●●●", "2": "5"} and code not in message.content
    assert check_code(NUMBER, code).verified


# ----------------------------------------------------------------------- nowhere in plain text


def test_no_plain_code_in_the_database_the_logs_or_the_admin(
    admin_client, xunchen_outbox, caplog, monkeypatch, settings
):
    from django_xunchen.verification import codes

    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"CODE_LENGTH": 8, "COOLDOWN": 0}}
    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: "73915286")
    caplog.set_level(logging.DEBUG)
    request_code(NUMBER, ip="203.0.113.7")
    request_code(NUMBER)
    assert check_code(NUMBER, "11111111").status == CheckStatus.WRONG
    locmem.deliver_all()
    from django_xunchen import poll

    poll(force=True)
    assert check_code(NUMBER, "73915286").verified
    assert last_code(NUMBER) == "73915286"
    dump = serializers.serialize("json", [*_all_rows()])
    assert "73915286" not in dump
    assert "73915286" not in "\n".join(r.getMessage() for r in caplog.records)
    pages = [
        reverse("admin:django_xunchen_verificationcode_changelist"),
        reverse(
            "admin:django_xunchen_verificationcode_change", args=[VerificationCode.objects.get().pk]
        ),
        reverse("admin:django_xunchen_message_changelist"),
        reverse("admin:django_xunchen_message_change", args=[Message.objects.first().pk]),
        reverse("admin:django_xunchen_throttleevent_changelist"),
        reverse("admin:django_xunchen_report_changelist"),
    ]
    for url in pages:
        page = admin_client.get(url)
        assert page.status_code == 200
        assert "73915286" not in page.content.decode(), url


def _all_rows():
    from django.apps import apps

    for model in apps.get_app_config("django_xunchen").get_models():
        yield from model.objects.all()


# ----------------------------------------------------------------------- queries


def test_query_counts(codes, xunchen_outbox):
    request_code("13900139000")
    with CaptureQueriesContext(connection) as requested:
        request_code(NUMBER)
    queries = [q["sql"] for q in requested.captured_queries if not _control(q["sql"])]
    ours = [q for q in queries if "django_xunchen_message" not in q]
    assert len(ours) <= 6, ours
    assert len(queries) - len(ours) == 3, "the send: insert, claim … RETURNING, outcome"
    with CaptureQueriesContext(connection) as checked:
        check_code(NUMBER, "000000")
    assert len([q for q in checked.captured_queries if not _control(q["sql"])]) <= 3


def _control(sql):
    return sql.split()[0].upper() in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")


# ----------------------------------------------------------------------- views


def test_the_json_views(client, xunchen_outbox):
    request_url, check_url = (
        reverse("django_xunchen:request_code"),
        reverse("django_xunchen:check_code"),
    )
    sent = client.post(request_url, {"mobile": NUMBER, "purpose": "login"})
    assert sent.status_code == 200 and sent.json() == {"status": "sent", "retry_after": 60}
    again = client.post(request_url, {"mobile": NUMBER}, content_type="application/json")
    assert again.status_code == 429 and again["Retry-After"]
    wrong = client.post(check_url, {"mobile": NUMBER, "code": "x"})
    assert wrong.status_code == 400 and wrong.json()["status"] == "wrong"
    right = client.post(check_url, {"mobile": NUMBER, "code": last_code(NUMBER)})
    assert right.json() == {"status": "verified", "attempts_left": 0}
    assert client.post(request_url, {"mobile": NUMBER, "purpose": "admin"}).status_code == 400
    assert client.post(request_url, {"mobile": "123"}).status_code == 400
    assert client.get(request_url).status_code == 405


def test_the_json_views_need_csrf(xunchen_outbox):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert (
        strict.post(reverse("django_xunchen:request_code"), {"mobile": NUMBER}).status_code == 403
    )
    assert not xunchen_outbox


def test_the_phone_code_form(xunchen_outbox):
    from django_xunchen.forms import PhoneCodeForm

    request_code(NUMBER)
    form = PhoneCodeForm({"mobile": "+86 138-0013-8000", "code": "12"})
    assert not form.is_valid() and "code" in form.errors
    wrong = str((int(last_code(NUMBER)) + 1) % 10**6).zfill(6)
    form = PhoneCodeForm({"mobile": NUMBER, "code": wrong})
    assert not form.is_valid() and form.non_field_errors() == ["The code is wrong."]
    form = PhoneCodeForm({"mobile": "+86 138-0013-8000", "code": last_code(NUMBER)})
    assert form.is_valid() and form.cleaned_data["mobile"] == NUMBER


def test_replacing_an_expired_code_stays_within_the_query_budget(codes, xunchen_outbox):
    request_code(NUMBER)
    VerificationCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as requested:
        assert request_code(NUMBER).sent
    queries = [q["sql"] for q in requested.captured_queries if not _control(q["sql"])]
    assert len([q for q in queries if "django_xunchen_message" not in q]) <= 6
    assert check_code(NUMBER, last_code(NUMBER)).verified
