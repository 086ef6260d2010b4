"""Verification codes: sent masked, checked once against brute force and replay, for their
number and purpose only, reused until half their life, derived the same way across
upgrades, never queued again from a row, and each check told to the signals, races
included."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from django_xunchen import resend, send_queued
from django_xunchen.backends import locmem
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.exceptions import NotSentError, XunchenValidationError
from django_xunchen.models import Message, ThrottleEvent, VerificationCode
from django_xunchen.testing import last_code
from django_xunchen.verification.codes import (
    CheckStatus,
    RequestStatus,
    check_code,
    request_code,
)

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
S = Message.Status
#: Noon, far from midnight.
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=CHINA_TZ)
NONCE = "00112233445566778899aabbccddeeff"


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


# ------------------------------------------------------------------ the request


def test_a_code_asked_inside_a_transaction_goes_out_when_it_commits(gateway, heard):
    with transaction.atomic():
        result = request_code(NUMBER, "signup")
        assert result.status == RequestStatus.SENT and result.retry_after == 60
        assert result.message.status == Message.Status.QUEUED and not gateway.submissions
    (submission,) = gateway.submissions
    assert submission.mobiles == (NUMBER,) and re.search(r"\d{6}", submission.text)
    assert Message.objects.get().status == Message.Status.SENT
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_requested"]
    assert sender is VerificationCode
    assert kwargs == {"mobile": NUMBER, "purpose": "signup", "message": result.message}


def test_with_a_backend_that_sends_nothing_out_a_code_is_sent_inside_the_transaction(
    limits, xunchen_outbox
):
    """locmem sends at once, so that a test in a transaction that never commits
    (Django's TestCase) still finds the code."""
    with transaction.atomic():
        assert request_code(NUMBER).message.status == Message.Status.SENT
        assert last_code(NUMBER)


def test_a_request_records_who_asked_and_when(limits, heard):
    with time_machine.travel(NOON, tick=False):
        first = request_code(NUMBER, "login", ip="203.0.113.7")
    record = VerificationCode.objects.get()
    assert (record.ip, record.last_sent_at, record.message_id) == (
        "203.0.113.7",
        NOON,
        first.message.pk,
    )
    assert first.message.metadata == {"verification": "login"}
    assert first.message.kind == Message.Kind.VERIFICATION
    with time_machine.travel(NOON + dt.timedelta(seconds=30), tick=False):
        again = request_code(NUMBER, "login")
    record.refresh_from_db()
    assert (record.sends, record.last_sent_at, record.message_id) == (
        2,
        NOON + dt.timedelta(seconds=30),
        again.message.pk,
    )
    ((sender, kwargs), _) = [(s, kw) for name, s, kw in heard if name == "code_requested"]
    assert sender is VerificationCode and kwargs["purpose"] == "login"


def test_a_live_code_is_another_number_s_or_purpose_s_never(limits):
    request_code("13900139000", "login")
    request_code(NUMBER, "reset")
    request_code(NUMBER, "login")
    assert VerificationCode.objects.filter(state="active").count() == 3
    assert len({c.nonce for c in VerificationCode.objects.all()}) == 3


def test_a_code_is_reused_until_exactly_half_its_life(limits):
    limits(CODE_TTL=300)
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER)
    with time_machine.travel(NOON + dt.timedelta(seconds=150), tick=False):
        request_code(NUMBER)
    assert VerificationCode.objects.get().sends == 2, "150 s of 300 left: still reused"
    with time_machine.travel(NOON + dt.timedelta(seconds=151), tick=False):
        request_code(NUMBER)
    states = list(VerificationCode.objects.order_by("id").values_list("state", flat=True))
    assert states == ["replaced", "active"]


def test_a_code_that_expires_at_that_very_moment_is_not_marked_replaced(limits):
    limits(CODE_TTL=300)
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER)
    with time_machine.travel(NOON + dt.timedelta(seconds=300), tick=False):
        request_code(NUMBER)
    states = list(VerificationCode.objects.order_by("id").values_list("state", flat=True))
    assert states == ["active", "active"]


def test_the_text_says_the_minutes_and_never_less_than_one(limits, xunchen_outbox):
    limits(CODE_TTL=30, TEXT="验证码{code}，{minutes}分钟内有效")
    request_code(NUMBER)
    assert xunchen_outbox[-1].content.endswith("，1分钟内有效")
    assert Message.objects.get().content.endswith("，1分钟内有效")


# ------------------------------------------------------------------ the check


def test_each_check_tells_the_signals_whose_code_and_what_happened(limits, heard):
    limits(MAX_ATTEMPTS=2, CODE_TTL=300)
    assert check_code(NUMBER, "000000", "reset").status == CheckStatus.NO_CODE
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER, "reset")
    code = last_code(NUMBER)
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    with time_machine.travel(NOON + dt.timedelta(seconds=10), tick=False):
        assert check_code(NUMBER, wrong, "reset").attempts_left == 1
        assert check_code(NUMBER, code, "reset").verified
        assert check_code(NUMBER, code, "reset").status == CheckStatus.NO_CODE
    with time_machine.travel(NOON + dt.timedelta(seconds=20), tick=False):
        request_code(NUMBER, "reset")
        check_code(NUMBER, wrong, "reset"), check_code(NUMBER, wrong, "reset")
        assert check_code(NUMBER, wrong, "reset").status == CheckStatus.TOO_MANY_ATTEMPTS
    with time_machine.travel(NOON + dt.timedelta(seconds=30), tick=False):
        request_code(NUMBER, "login")
    with time_machine.travel(NOON + dt.timedelta(seconds=330), tick=False):
        assert check_code(NUMBER, last_code(NUMBER), "login").status == "expired"
    checks = [(n, s, kw) for n, s, kw in heard if n in ("code_verified", "code_failed")]
    assert {s for _, s, _ in checks} == {VerificationCode}
    assert [(n, kw) for n, _, kw in checks] == [
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "no_code"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "wrong"}),
        ("code_verified", {"mobile": NUMBER, "purpose": "reset"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "no_code"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "wrong"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "wrong"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "too_many_attempts"}),
        ("code_failed", {"mobile": NUMBER, "purpose": "login", "reason": "expired"}),
    ]


def test_a_right_code_is_used_up_alone_and_records_when(limits):
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER)
        request_code("13900139000")
    with time_machine.travel(NOON + dt.timedelta(seconds=5), tick=False):
        assert check_code(NUMBER, last_code(NUMBER)).verified
    states = dict(VerificationCode.objects.values_list("mobile", "state"))
    assert states == {NUMBER: "verified", "13900139000": "active"}
    assert VerificationCode.objects.get(mobile=NUMBER).verified_at == NOON + dt.timedelta(seconds=5)


def test_a_code_checked_at_the_very_moment_it_expires_has_expired(limits):
    limits(CODE_TTL=300)
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER)
    with time_machine.travel(NOON + dt.timedelta(seconds=300), tick=False):
        assert check_code(NUMBER, last_code(NUMBER)).status == CheckStatus.EXPIRED


@pytest.mark.parametrize("guess", [123456, 12345, None, 1.5, True, b"123456", ["123456"]])
def test_a_guess_that_is_not_a_string_is_refused_and_spends_no_attempt(limits, monkeypatch, guess):
    """A code from JSON as a number has lost its leading zeros (012345 is 12345): it is
    bad input, refused before any row is read, not a wrong guess."""
    from django.test.utils import CaptureQueriesContext

    from django_xunchen.verification import codes

    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: "012345")
    request_code(NUMBER)
    with CaptureQueriesContext(connection) as queries, pytest.raises(XunchenValidationError):
        check_code(NUMBER, guess)
    assert len(queries) == 0
    assert VerificationCode.objects.get().attempts == 0
    assert check_code(NUMBER, "012345").verified


@pytest.mark.parametrize(("guess", "named"), [(123456, "int"), (None, "NoneType")])
def test_a_guess_that_is_not_a_string_is_refused_naming_what_it_was(limits, guess, named):
    """The caller learns what reached check_code (a JSON number, nothing), not only that it
    was refused."""
    request_code(NUMBER)
    with pytest.raises(XunchenValidationError) as info:
        check_code(NUMBER, guess)
    assert str(info.value) == f"a verification code is a string of digits, not {named}"


def test_a_guess_with_a_lone_surrogate_is_a_wrong_guess_not_a_crash(limits):
    """A guess is any text a form or JSON body carries, lone surrogates included ("\\ud800"
    in JSON): it is hashed like any other and spends an attempt."""
    request_code(NUMBER)
    result = check_code(NUMBER, "12\ud80034")
    assert result.status == CheckStatus.WRONG
    assert VerificationCode.objects.get().attempts == 1


class Meanwhile:
    """An execute wrapper that, just before the check's UPDATE, lets another process
    change the code's row (run on a second connection, committed)."""

    def __init__(self, change):
        self.change = change
        self.done = False

    def __call__(self, execute, sql, params, many, context):
        if not self.done and sql.lstrip().upper().startswith("UPDATE") and "verification" in sql:
            self.done = True
            self.change()
        return execute(sql, params, many, context)


@pytest.mark.parametrize(
    "change",
    [
        {"state": "verified"},  # another process verified it
        {"attempts": 5, "state": "dead"},  # another process used the last attempts
        {"expires_at": dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)},  # ran out
    ],
    ids=["verified", "attempts used", "expired"],
)
def test_a_right_code_loses_a_race_it_did_not_win(limits, change):
    request_code(NUMBER)
    code = last_code(NUMBER)
    meanwhile = Meanwhile(lambda: VerificationCode.objects.update(**change))
    with connection.execute_wrapper(meanwhile):
        result = check_code(NUMBER, code)
    assert meanwhile.done and result.status == CheckStatus.TOO_MANY_ATTEMPTS
    assert VerificationCode.objects.get().verified_at is None


def test_a_wrong_guess_racing_the_last_attempt_is_refused(limits):
    request_code(NUMBER)
    meanwhile = Meanwhile(lambda: VerificationCode.objects.update(attempts=5, state="dead"))
    with connection.execute_wrapper(meanwhile):
        result = check_code(NUMBER, "x")
    assert result.status == CheckStatus.TOO_MANY_ATTEMPTS
    assert VerificationCode.objects.get().attempts == 5


# ------------------------------------------------------------------ derivation, input, refusals


def test_codes_are_derived_the_same_way_across_upgrades(settings):
    """A code sent before an upgrade must still check after it: the derivation is
    pinned by known answers, from SECRET_KEY or from VERIFICATION["KEY"]."""
    from django_xunchen.verification.codes import derive_code, hash_code

    settings.SECRET_KEY = "known-answer-secret"
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {}}
    assert (derive_code(NONCE, 6), derive_code(NONCE, 8)) == ("458117", "72458117")
    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"KEY": "a site key"}}
    assert derive_code(NONCE, 6) == "968799"
    assert hash_code(NUMBER, "login", "123456") == (
        "06ad4dc4890dd18fb78952d6b4da858f3b5d534e9522ec1c12fa02abd2fc3c47"
    )


def test_a_nonce_is_128_random_bits(limits):
    request_code(NUMBER)
    request_code("13900139000")
    nonces = list(VerificationCode.objects.values_list("nonce", flat=True))
    assert [len(n) for n in nonces] == [32, 32] and nonces[0] != nonces[1]
    assert all(int(n, 16) >= 0 for n in nonces)


@pytest.mark.parametrize(
    ("mobile", "purpose", "ip", "message"),
    [
        (
            ["13800138000", "13900139000"],
            "login",
            None,
            "a verification code goes to exactly one number",
        ),
        (
            NUMBER,
            "Log in",
            None,
            "purpose must be 1 to 32 lower-case letters, digits, '_', '.' or '-', not 'Log in'",
        ),
        (NUMBER, "login", "300.1.1.1", "not an IP address: '300.1.1.1'"),
    ],
)
def test_bad_input_says_exactly_what_is_wrong(limits, mobile, purpose, ip, message):
    from django_xunchen.exceptions import XunchenValidationError

    with pytest.raises(XunchenValidationError) as info:
        request_code(mobile, purpose, ip=ip)
    assert str(info.value) == message


def test_a_code_goes_out_on_the_account_asked_for(settings, xunchen_outbox):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {}, "codes": {"USERNAME": "C", "KINDS": ["verification"]}},
        "VERIFICATION": {"COOLDOWN": 0},
    }
    request_code(NUMBER, account="codes")
    request_code("13900139000")
    assert [(s.account, s.mobiles) for s in xunchen_outbox] == [
        ("codes", (NUMBER,)),
        ("default", ("13900139000",)),
    ]


def test_a_refused_code_fails_alone_and_says_why(limits):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import GatewayError

    request_code("13900139000")
    error = GatewayError("110", "含有屏蔽词")
    locmem.fail_next(error)
    result = request_code(NUMBER)
    assert (result.status, result.error, result.message.pk) == (
        RequestStatus.FAILED,
        error,
        Message.objects.get(mobile=NUMBER).pk,
    )
    states = dict(VerificationCode.objects.values_list("mobile", "state"))
    assert states == {"13900139000": "active", NUMBER: "failed"}


def test_a_resent_live_code_that_is_refused_stays_valid(limits):
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import GatewayError

    request_code(NUMBER)
    code = last_code(NUMBER)
    locmem.fail_next(GatewayError("110", "含有屏蔽词"))
    assert request_code(NUMBER).status == RequestStatus.FAILED
    assert VerificationCode.objects.get().state == "active"
    assert check_code(NUMBER, code).verified, "the first SMS still works"


def test_a_template_code_is_a_verification_message_with_its_account_s_template(
    settings, xunchen_outbox
):
    from django_xunchen.models import Template

    for account in ("default", "codes"):
        Template.objects.create(
            account=account, template_id="CODE-1", name=account, body="验证码@1@，@2@分钟内有效"
        )
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {"default": {}, "codes": {"USERNAME": "C", "KINDS": ["verification"]}},
        "VERIFICATION": {"COOLDOWN": 0, "TEMPLATE": "CODE-1"},
    }
    message = request_code(NUMBER, account="codes").message
    assert (message.kind, message.account, message.template.name) == (
        Message.Kind.VERIFICATION,
        "codes",
        "codes",
    )


def test_a_request_is_recorded_at_the_very_time_its_code_was_sent(limits):
    request_code(NUMBER)
    assert ThrottleEvent.objects.get().at == VerificationCode.objects.get().last_sent_at


@pytest.mark.parametrize("guess", ["right", "wrong"])
def test_a_check_that_loses_a_race_tells_the_signals_whose_code_it_was(limits, heard, guess):
    request_code(NUMBER, "reset")
    code = last_code(NUMBER) if guess == "right" else "x"
    meanwhile = Meanwhile(lambda: VerificationCode.objects.update(attempts=5, state="dead"))
    with connection.execute_wrapper(meanwhile):
        result = check_code(NUMBER, code, "reset")
    assert meanwhile.done and result.status == CheckStatus.TOO_MANY_ATTEMPTS
    checks = [(name, kw) for name, _, kw in heard if name in ("code_verified", "code_failed")]
    assert checks == [
        ("code_failed", {"mobile": NUMBER, "purpose": "reset", "reason": "too_many_attempts"})
    ]


def test_a_code_s_parts_are_counted_on_its_whole_text(settings, xunchen_outbox):
    """A long code text is billed as the parts its whole text makes, code included."""
    long_text = "您的验证码是{code}，{minutes}分钟内有效。" + "请勿把验证码告诉任何人，" * 6
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {**settings.XUNCHEN.get("VERIFICATION", {}), "TEXT": long_text},
    }
    assert request_code(NUMBER).sent
    sent = xunchen_outbox[0].content
    assert 70 < len(sent) <= 134
    assert Message.objects.get().parts == 2
