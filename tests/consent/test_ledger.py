"""The consent ledger: entries only added, the latest per number and scope is the state,
and the suppression list and replies write to it."""

import datetime as dt

import pytest
from django.utils import timezone

from django_xunchen import poll, send_sms
from django_xunchen import signals as signal_module
from django_xunchen.backends import locmem
from django_xunchen.consent import (
    InvalidScopeError,
    grant_consent,
    has_consent,
    history,
    withdraw_consent,
)
from django_xunchen.exceptions import InvalidMobileError, XunchenValidationError
from django_xunchen.models import Consent, Message, Suppression
from django_xunchen.policy.suppression import suppress, suppress_many, unsuppress

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBER = "13800138000"


@pytest.fixture
def required(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "REQUIRE_CONSENT": True}


@pytest.fixture
def heard():
    got = []

    def granted(sender, **kwargs):
        got.append(("granted", kwargs["mobile"], kwargs["consent"].scope))

    def withdrawn(sender, **kwargs):
        got.append(("withdrawn", kwargs["mobile"], kwargs["consent"].scope))

    signal_module.consent_granted.connect(granted)
    signal_module.consent_withdrawn.connect(withdrawn)
    yield got
    signal_module.consent_granted.disconnect(granted)
    signal_module.consent_withdrawn.disconnect(withdrawn)


def test_an_entry_is_never_changed():
    entry = grant_consent(NUMBER, wording="同意")
    entry.granted = False
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    assert Consent.objects.get().granted is True


def test_the_latest_entry_by_the_time_the_person_acted_is_the_state():
    withdraw_consent(NUMBER)
    assert not has_consent(NUMBER)
    grant_consent(NUMBER, at=timezone.now() - dt.timedelta(days=365), note="last year's form")
    assert not has_consent(NUMBER), "a grant dated before the withdrawal does not undo it"
    grant_consent(NUMBER)
    assert has_consent(NUMBER)
    assert has_consent("+86 138-0013-8000")
    assert not has_consent(NUMBER, "newsletter"), "each scope on its own"
    assert [e.granted for e in history(NUMBER)] == [True, False, True]


def test_bad_input_writes_nothing():
    with pytest.raises(InvalidScopeError):
        grant_consent(NUMBER, scope="Marketing; DROP")
    with pytest.raises(InvalidMobileError):
        grant_consent("12345")
    with pytest.raises(XunchenValidationError, match="in the future"):
        grant_consent(NUMBER, at=timezone.now() + dt.timedelta(days=9000))
    with pytest.raises(XunchenValidationError, match="source must be one of"):
        grant_consent(NUMBER, source="rumour")
    assert not Consent.objects.exists()


def test_signals_after_the_commit(heard):
    grant_consent(NUMBER, scope="newsletter")
    withdraw_consent(NUMBER, scope="newsletter")
    assert heard == [("granted", NUMBER, "newsletter"), ("withdrawn", NUMBER, "newsletter")]


def test_a_request_gives_the_evidence(rf, admin_user):
    request = rf.post("/", HTTP_USER_AGENT="Mozilla/5.0 test", REMOTE_ADDR="203.0.113.9")
    request.user = admin_user
    entry = grant_consent(NUMBER, source="form", wording="我同意", request=request)
    assert (entry.ip, entry.user_agent, entry.wording) == (
        "203.0.113.9",
        "Mozilla/5.0 test",
        "我同意",
    )
    assert entry.staff == admin_user and entry.staff_name == admin_user.get_username()


# ------------------------------------------------------------------- REQUIRE_CONSENT


def test_with_require_consent_off_marketing_needs_no_grant(xunchen_outbox):
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing")
    assert promo.status == S.SENT


def test_with_it_on_marketing_needs_a_grant_and_nothing_else_does(required, xunchen_outbox):
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing", fail_silently=True)
    assert promo.status == S.SUPPRESSED and promo.error_message.startswith("No consent")
    (notice,) = send_sms(NUMBER, "您的订单已发货")
    assert notice.status == S.SENT, "only marketing needs consent"
    grant_consent(NUMBER)
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing")
    assert promo.status == S.SENT


def test_it_is_per_account(settings, xunchen_outbox):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": "django_xunchen.backends.locmem.SMSBackend"},
            "strict": {
                "BACKEND": "django_xunchen.backends.locmem.SMSBackend",
                "USERNAME": "S1",
                "KINDS": ["marketing"],
                "REQUIRE_CONSENT": True,
            },
        },
    }
    (free,) = send_sms(NUMBER, "新品上市", kind="marketing", account="default")
    (strict,) = send_sms(NUMBER, "新品上市", kind="marketing", account="strict", fail_silently=True)
    assert (free.status, strict.status) == (S.SENT, S.SUPPRESSED)


# ------------------------------------------------------------ replies and suppression


def test_an_opt_in_reply_is_a_grant_with_the_reply_as_evidence(required, xunchen_outbox):
    locmem.queue_reply(NUMBER, "订阅")
    poll(force=True)
    (entry,) = Consent.objects.all()
    assert (entry.granted, entry.source, entry.scope) == (True, "reply", "marketing")
    assert entry.reply.content == "订阅" and entry.note == "订阅"
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing")
    assert promo.status == S.SENT


def test_an_opt_out_reply_withdraws_every_scope_and_the_next_marketing_is_stopped(
    required, xunchen_outbox
):
    grant_consent(NUMBER)
    grant_consent(NUMBER, scope="newsletter")
    locmem.queue_reply(NUMBER, "退订")
    poll(force=True)
    withdrawals = Consent.objects.filter(granted=False).order_by("scope")
    assert [(w.scope, w.source, w.reply.content) for w in withdrawals] == [
        ("marketing", "reply", "退订"),
        ("newsletter", "reply", "退订"),
    ]
    assert not has_consent(NUMBER)
    unsuppress(NUMBER)  # staff take it off the list: the withdrawal still stands
    (promo,) = send_sms(NUMBER, "新品上市", kind="marketing", fail_silently=True)
    assert promo.status == S.SUPPRESSED and promo.error_message.startswith("No consent")
    assert not xunchen_outbox


def test_a_grant_on_a_web_form_lifts_the_persons_own_opt_out_only(required, xunchen_outbox):
    suppress(NUMBER, source=Suppression.Source.REPLY)
    grant_consent(NUMBER, source="form", wording="我同意")
    assert not Suppression.objects.exists(), "their newer word"
    suppress(NUMBER, source=Suppression.Source.STAFF)
    grant_consent(NUMBER, source="form", wording="我同意")
    assert Suppression.objects.exists(), "staff's entry is staff's to lift"
    suppress("13900139000", source=Suppression.Source.REPLY)
    grant_consent("13900139000", source="import")
    assert Suppression.objects.filter(mobile="13900139000").exists(), "an import is no new word"


def test_staff_suppressing_a_number_withdraws_with_their_name(admin_user):
    grant_consent(NUMBER)
    suppress(NUMBER, source=Suppression.Source.STAFF, cause="asked by phone", staff=admin_user)
    withdrawal = Consent.objects.get(granted=False)
    assert (withdrawal.source, withdrawal.staff_name, withdrawal.note) == (
        "staff",
        admin_user.get_username(),
        "asked by phone",
    )


def test_an_import_to_the_suppression_list_withdraws_the_numbers_that_had_consent(heard):
    grant_consent(NUMBER)
    suppress_many([NUMBER, "13900139000"], source=Suppression.Source.IMPORT)
    (withdrawal,) = Consent.objects.filter(granted=False)
    assert (withdrawal.mobile, withdrawal.source) == (NUMBER, "import")
    assert heard == [("granted", NUMBER, "marketing"), ("withdrawn", NUMBER, "marketing")]
