"""send_notice(): the notice sent in place of a code is a verification message that says
it is a notice and for which purpose, and goes out on the account it was asked for."""

import pytest

from django_xunchen.models import Message, VerificationCode
from django_xunchen.verification import send_notice

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
TEXT = "该号码尚未注册账号。"


def test_a_notice_row_says_it_is_a_notice_and_for_which_purpose(limits, xunchen_outbox):
    result = send_notice(NUMBER, TEXT, "signup")
    assert result.sent
    row = Message.objects.get()
    assert row.pk == result.message.pk
    assert (row.kind, row.content, row.masked) == ("verification", TEXT, False)
    assert row.metadata == result.message.metadata == {"verification": "signup", "notice": True}
    assert not VerificationCode.objects.exists(), "a notice carries no code"
    assert [s.mobiles for s in xunchen_outbox] == [(NUMBER,)]


def test_a_notice_goes_out_on_the_account_asked_for(limits, settings, xunchen_outbox):
    """Codes route to ``default``; the caller names ``spare``, which also takes them."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM},
            "spare": {"BACKEND": LOCMEM, "USERNAME": "S1", "KINDS": ["verification"]},
        },
    }
    assert send_notice(NUMBER, TEXT, "login").message.account == "default"
    result = send_notice("13900139000", TEXT, "login", account="spare")
    assert result.sent
    assert Message.objects.get(pk=result.message.pk).account == "spare"
