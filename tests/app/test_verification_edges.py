"""Verification codes at their edges: each throttle's window to the second, across the
gateway's midnight, the exact wait it tells the caller, what signals say, and a check
that races another process between its read and its write."""

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from django_xunchen import signals as module
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message, ThrottleEvent, VerificationCode
from django_xunchen.testing import last_code
from django_xunchen.verification.codes import CheckStatus, RequestStatus, check_code, request_code
from django_xunchen.verification.throttles import lift_throttles

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
#: Ten minutes after the gateway's midnight (China Standard Time).
AFTER_MIDNIGHT = dt.datetime(2026, 11, 20, 0, 10, tzinfo=CHINA_TZ)
#: Noon, far from midnight.
NOON = dt.datetime(2026, 11, 20, 12, 0, tzinfo=CHINA_TZ)
SENT, THROTTLED = ThrottleEvent.Outcome.SENT, ThrottleEvent.Outcome.THROTTLED


@pytest.fixture
def limits(settings, xunchen_outbox):
    """Loose limits but for those a test sets; no cooldown unless asked."""

    def configure(**verification):
        loose = {
            "COOLDOWN": 0,
            "PER_HOUR": 100,
            "PER_DAY": 100,
            "IP_PER_HOUR": 100,
            "PREFIX_LIMIT": 100,
            "DAILY_ALARM": 100,
        }
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {**loose, **verification}}

    configure()
    return configure


@pytest.fixture
def heard():
    """Every verification signal, as (name, sender, kwargs)."""
    got = []
    names = ["code_requested", "code_throttled", "code_verified", "code_failed"]
    names.append("code_volume_alarm")
    handlers = []
    for name in names:

        def handler(sender, _name=name, **kwargs):
            kwargs.pop("signal", None)
            got.append((_name, sender, kwargs))

        getattr(module, name).connect(handler, weak=False)
        handlers.append((name, handler))
    yield got
    for name, handler in handlers:
        getattr(module, name).disconnect(handler)


def past(seconds, mobile=NUMBER, ip=None, outcome=SENT, now=None):
    """A request made ``seconds`` before ``now``."""
    at = (now or timezone.now()) - dt.timedelta(seconds=seconds)
    return ThrottleEvent.objects.create(
        mobile=mobile, prefix=mobile[:7], ip=ip, purpose="login", outcome=outcome, at=at
    )


def asked(**kwargs):
    result = request_code(NUMBER, **kwargs)
    return (result.status, result.reason, result.retry_after)


# ------------------------------------------------------------------ windows, to the second


@time_machine.travel(NOON, tick=False)
def test_per_hour_counts_the_last_hour_and_waits_for_its_oldest(limits):
    limits(PER_HOUR=2)
    past(3601), past(100)
    assert asked()[0] == RequestStatus.SENT, "an hour and a second ago no longer counts"
    ThrottleEvent.objects.all().delete()
    past(3000), past(1000, outcome=THROTTLED), past(100)
    assert asked() == (RequestStatus.THROTTLED, "hourly", 600), "refusals do not count"


@time_machine.travel(NOON, tick=False)
def test_per_day_counts_the_last_day_and_waits_for_its_oldest(limits):
    limits(PER_DAY=2)
    past(86401), past(7200)
    assert asked()[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(86000), past(7200)
    past(60, mobile="13900139000")  # another number's request is not mine
    assert asked() == (RequestStatus.THROTTLED, "daily", 400)


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_per_day_and_per_hour_reach_back_across_the_gateway_s_midnight(limits):
    limits(PER_DAY=2)
    past(5 * 3600), past(2 * 3600)
    assert asked() == (RequestStatus.THROTTLED, "daily", 86400 - 5 * 3600)


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_per_ip_counts_the_last_hour_of_that_ip_only(limits):
    limits(IP_PER_HOUR=2)
    ip = "198.51.100.4"
    past(3601, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    past(60, mobile="13900000003", ip="198.51.100.5"), past(60, mobile="13900000004")
    assert asked(ip=ip)[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(3000, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    assert asked(ip=ip) == (RequestStatus.THROTTLED, "ip", 600), "across midnight too"


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_a_prefix_counts_its_window_only_and_other_prefixes_not_at_all(limits):
    limits(PREFIX_LIMIT=2, PREFIX_WINDOW=900, PREFIX_BLOCK=1800)
    past(901, mobile="13800130001"), past(100, mobile="13800130002")
    past(60, mobile="13900130003"), past(60, mobile="13700130004")
    assert asked()[0] == RequestStatus.SENT
    ThrottleEvent.objects.all().delete()
    past(800, mobile="13800130001"), past(100, mobile="13800130002")
    assert asked() == (RequestStatus.THROTTLED, "prefix", 1800), "across midnight too"


@time_machine.travel(AFTER_MIDNIGHT, tick=False)
def test_the_daily_volume_is_today_s_on_the_gateway_s_clock(limits, heard):
    limits(DAILY_ALARM=2, DAILY_BLOCK=True)
    past(1200), past(1800)  # yesterday, on the gateway's clock
    assert asked()[0] == RequestStatus.SENT
    assert not [h for h in heard if h[0] == "code_volume_alarm"]
    past(60, mobile="13900000003")
    assert asked(ip="203.0.113.1") == (RequestStatus.THROTTLED, "volume", 86400 - 600)
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_volume_alarm"]
    assert sender is VerificationCode and kwargs == {"volume": 2, "threshold": 2}


@time_machine.travel(NOON, tick=False)
def test_a_throttle_whose_events_are_fewer_than_its_limit_says_one_second(limits):
    """The cooldown counts any request in the last minute; were the oldest already
    gone, the wait would be one second, never zero."""
    limits(COOLDOWN=60)
    past(30)
    assert asked() == (RequestStatus.THROTTLED, "cooldown", 30)


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


def test_lifting_a_throttle_lifts_only_that_number_s_requests(limits):
    limits(COOLDOWN=60)
    request_code(NUMBER)
    request_code("13900139000")
    past(10, outcome=THROTTLED)
    assert lift_throttles([NUMBER]) == 1
    lifted = dict(ThrottleEvent.objects.values_list("mobile", "lifted").filter(outcome=SENT))
    assert lifted == {NUMBER: True, "13900139000": False}
    assert request_code("13900139000").reason == "cooldown"


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


def test_a_guess_that_is_not_text_is_wrong(limits):
    request_code(NUMBER)
    assert check_code(NUMBER, 123456).status == CheckStatus.WRONG
    assert check_code(NUMBER, None).status == CheckStatus.WRONG


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


# ------------------------------------------------------------------ more edges


NONCE = "00112233445566778899aabbccddeeff"


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


def test_an_empty_ip_is_no_ip(limits):
    assert request_code(NUMBER, ip="").sent
    assert VerificationCode.objects.get().ip is None


def test_the_client_ip_when_the_trusted_header_is_missing_or_hops_is_zero(settings, rf):
    from django_xunchen.verification.codes import client_ip

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "VERIFICATION": {"TRUSTED_PROXY_HEADER": "HTTP_X_FORWARDED_FOR", "TRUSTED_PROXY_HOPS": 1},
    }
    assert client_ip(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
    settings.XUNCHEN["VERIFICATION"]["TRUSTED_PROXY_HOPS"] = 0
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.2", "never the entry the client wrote"


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


def test_a_throttled_request_is_recorded_and_told_in_full(limits, heard):
    limits(COOLDOWN=60)
    with time_machine.travel(NOON, tick=False):
        request_code(NUMBER, "reset", ip="203.0.113.7")
    with time_machine.travel(NOON + dt.timedelta(seconds=20), tick=False):
        result = request_code(NUMBER, "reset", ip="203.0.113.7")
    assert (result.status, result.reason, result.retry_after) == ("throttled", "cooldown", 40)
    event = ThrottleEvent.objects.order_by("pk").last()
    assert (event.purpose, event.outcome, event.reason, event.at, event.ip) == (
        "reset",
        THROTTLED,
        "cooldown",
        NOON + dt.timedelta(seconds=20),
        "203.0.113.7",
    )
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_throttled"]
    assert sender is VerificationCode
    assert kwargs == {
        "mobile": NUMBER,
        "purpose": "reset",
        "ip": "203.0.113.7",
        "reason": "cooldown",
        "retry_after": 40,
    }
    ((sender, kwargs),) = [(s, kw) for name, s, kw in heard if name == "code_requested"]
    assert kwargs == {"mobile": NUMBER, "purpose": "reset", "message": kwargs["message"]}
    assert kwargs["message"].pk == Message.objects.get().pk


@time_machine.travel(NOON, tick=False)
def test_the_shortest_wait_is_one_second(limits):
    limits(COOLDOWN=60)
    past(59.5)
    assert asked() == (RequestStatus.THROTTLED, "cooldown", 1)


@time_machine.travel(NOON, tick=False)
def test_a_prefix_block_ends_at_its_very_moment(limits):
    from django_xunchen.models import ThrottleBucket

    limits(PREFIX_LIMIT=100)
    ThrottleBucket.objects.create(key=f"prefix:{NUMBER[:7]}", blocked_until=NOON)
    assert asked()[0] == RequestStatus.SENT


@time_machine.travel(NOON, tick=False)
def test_counts_far_from_midnight_keep_to_their_windows(limits):
    limits(PER_DAY=3, IP_PER_HOUR=2, PREFIX_LIMIT=2, PREFIX_WINDOW=900)
    past(7200), past(3600 * 5), past(60, mobile="13900139000")  # another number, today
    ip = "198.51.100.4"
    past(3601, mobile="13900000001", ip=ip), past(1800, mobile="13900000002", ip=ip)
    past(901, mobile="13800130001"), past(100, mobile="13800130002")
    assert asked(ip=ip)[0] == RequestStatus.SENT


@time_machine.travel(NOON, tick=False)
def test_a_lifted_request_does_not_count_in_the_wait(limits):
    limits(PER_HOUR=2)
    past(3000), past(2000), past(50)
    lifted = past(100)
    ThrottleEvent.objects.filter(pk=lifted.pk).update(lifted=True)
    assert asked() == (RequestStatus.THROTTLED, "hourly", 3600 - 2000)


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


def test_lifting_twice_lifts_nothing_the_second_time(limits):
    request_code(NUMBER)
    assert lift_throttles([NUMBER]) == 1
    assert lift_throttles([NUMBER]) == 0


def test_today_s_volume_counts_today_s_codes_sent(limits):
    from django_xunchen.verification.codes import volume_today

    with time_machine.travel(AFTER_MIDNIGHT, tick=False):
        past(1200), past(60), past(30, outcome=THROTTLED)
        assert volume_today() == (1, 100)


# ------------------------------------------------------------------ third round


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


def test_the_ip_s_count_is_kept_in_a_bucket_of_its_own(limits):
    """Each counted key has a row that every request locks, so that the count holds
    across processes; the IP's too."""
    from django_xunchen.models import ThrottleBucket

    request_code(NUMBER, ip="203.0.113.7")
    request_code("13900139000")
    assert set(ThrottleBucket.objects.values_list("key", flat=True)) == {
        f"mobile:{NUMBER}",
        "mobile:13900139000",
        f"prefix:{NUMBER[:7]}",
        "prefix:1390013",
        "ip:203.0.113.7",
    }


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
