"""The ``poll_sms`` command: its summary, options, interval, exit status, and the lock."""

import io

import pytest
from django.core.management import CommandError, call_command

from django_xunchen import send_sms
from django_xunchen.polling.accounts import lock_name_for
from django_xunchen.polling.locks import DatabaseLock

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_poll_sms_prints_a_summary(gateway):
    send_sms("13800138000", "x")
    gateway.inject_reply("13800138000", "好")
    out = run("poll_sms")
    assert out.strip() == "reports 1 (1 matched); replies 1 (1 matched)"


def test_poll_sms_options(gateway):
    run("poll_sms", "--reports-only")
    assert [r["method"] for r in gateway.requests] == ["queryReport"]
    run("poll_sms", "--inbound-only")
    assert gateway.requests[-1]["method"] == "queryMo"


def test_poll_sms_interval_and_force(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "POLL_INTERVAL": 180}
    run("poll_sms")
    assert "too soon" in run("poll_sms")
    assert "too soon" not in run("poll_sms", "--force")


def test_poll_sms_exits_non_zero_on_failure(gateway):
    gateway.account.password = "changed"
    with pytest.raises(CommandError, match="101"):
        run("poll_sms")


def test_poll_sms_reports_the_lock_and_exits_zero(gateway):
    lock = DatabaseLock(lock_name_for(), owner="cron-host:42")
    lock.acquire()
    try:
        assert "another poll is running (cron-host:42)" in run("poll_sms")
    finally:
        lock.release()
