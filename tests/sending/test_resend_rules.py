"""resend() and the rules when it writes: each original's own account's quiet hours, the
words that account's gateway refused (read once per account, however many messages),
a refused one skipped without ending the resend, and a verification message (a notice,
its text the site's own) spared the words."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_xunchen import policy, resend
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
WORD = "特价"


def failed(mobile, content, kind="notification", account="default"):
    return Message.objects.create(
        mobile=mobile, content=content, kind=kind, account=account, status=S.FAILED
    )


@pytest.fixture
def quiet_default(settings):
    """``default`` keeps quiet hours; ``mkt`` (marketing) has none."""
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": LOCMEM, "QUIET_HOURS": ("21:00", "08:00")},
            "mkt": {"BACKEND": LOCMEM, "USERNAME": "M1", "KINDS": ["marketing"]},
        },
        "ROUTES": {"marketing": "mkt"},
    }


def test_a_resend_at_night_on_an_account_without_quiet_hours_goes_out_at_once(
    quiet_default, xunchen_outbox
):
    original = failed("13800138000", "上新回T退订", kind="marketing", account="mkt")
    with time_machine.travel(NIGHT, tick=False):
        (copy,), skipped = resend([original])
    copy.refresh_from_db()
    assert skipped == []
    assert (copy.account, copy.status, copy.hold_until) == ("mkt", S.SENT, None)
    assert [s.mobiles for s in xunchen_outbox] == [("13800138000",)]


def test_a_refused_word_skips_that_message_and_the_resend_goes_on(xunchen_outbox):
    policy.learn_blocked_words("default", [WORD], source=None)
    refused = failed("13800138000", f"今日{WORD}")
    fine = failed("13800138001", "发货了")
    created, skipped = resend([refused, fine])
    assert skipped == [refused]
    assert [(m.resent_from_id, m.status) for m in created] == [(fine.pk, S.SENT)]
    assert [s.mobiles for s in xunchen_outbox] == [("13800138001",)]


def test_a_verification_notice_with_a_refused_word_is_resent(xunchen_outbox):
    """A notice sent in place of a code is an unmasked verification message: its text is
    the site's own, and the words refused on marketing and notices do not stop it."""
    policy.learn_blocked_words("default", [WORD], source=None)
    notice = failed("13800138000", f"该号码未注册，{WORD}活动请见官网。", kind="verification")
    (copy,), skipped = resend([notice])
    assert skipped == []
    assert (copy.resent_from_id, copy.kind, copy.status) == (notice.pk, "verification", S.SENT)


def _word_reads(messages):
    with CaptureQueriesContext(connection) as ctx:
        created, skipped = resend(messages)
    assert len(created) == len(messages) and skipped == []
    return len([q for q in ctx.captured_queries if "blockedword" in q["sql"]])


def test_a_resend_reads_each_account_s_words_once_however_many_messages(xunchen_outbox):
    policy.learn_blocked_words("default", [WORD], source=None)
    one = _word_reads([failed("13800138000", "发货了")])
    many = _word_reads([failed(f"1380013800{i}", "发货了") for i in range(1, 6)])
    assert one == many
