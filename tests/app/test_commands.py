import io

import pytest
from django.core.management import CommandError, call_command

from django_xunchen import send_sms
from django_xunchen.models import Message
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


def test_sms_balance(gateway):
    assert run("sms_balance").strip() == "balance 5000 (50000 messages)"


def test_sms_balance_error(gateway):
    gateway.account.enabled = False
    with pytest.raises(CommandError, match="disabled"):
        run("sms_balance")


def test_send_sms_command_content(gateway):
    out = run("send_sms", "--to", "13800138000,13900000000", "--content", "命令行")
    assert out.count("\tsent\t") == 2
    assert gateway.submissions[0].text == "命令行"


def test_send_sms_command_template(gateway, template):
    run(
        "send_sms",
        "--to",
        "13800138000",
        "--template",
        "JSM40001-0001",
        "--param",
        "1=赵",
        "--param",
        "2=7788",
    )
    assert gateway.submissions[0].text == "尊敬的赵,您的验证码为7788，请及时输入。"


def test_send_sms_command_bad_input(gateway):
    with pytest.raises(CommandError, match="'123'"):
        run("send_sms", "--to", "123", "--content", "x")
    with pytest.raises(CommandError, match="N=VALUE"):
        run("send_sms", "--to", "13800138000", "--template", "T", "--param", "oops")
    assert Message.objects.count() == 0


def test_send_queued_command(gateway):
    Message.objects.create(mobile="13800138000", content="waiting")
    assert run("send_queued").startswith("queued 1, sent 1 in 1 requests")


@pytest.mark.parametrize(
    ("limit", "words"), [("-1", "1 or more"), ("0", "1 or more"), ("x", "whole")]
)
def test_send_queued_refuses_a_bad_limit_before_touching_a_row(limit, words):
    Message.objects.create(mobile="13800138000", content="waiting", status="sending")
    with pytest.raises(CommandError, match=words):
        run("send_queued", "--limit", limit)
    assert Message.objects.get().status == "sending"


def test_send_queued_idle_for_leaves_rows_touched_since_then(xunchen_outbox, settings):
    import datetime as dt

    from django.utils import timezone

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "django_xunchen.backends.locmem.SMSBackend"}
    fresh = Message.objects.create(mobile="13800138000", content="just queued")
    idle = Message.objects.create(mobile="13800138001", content="left behind")
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    Message.objects.filter(pk=idle.pk).update(updated_at=an_hour_ago)
    assert run("send_queued", "--idle-for", "60").startswith("queued 1, sent 1 in 1 requests")
    assert [s.mobiles for s in xunchen_outbox] == [("13800138001",)]
    fresh.refresh_from_db()
    assert fresh.status == "queued"


@pytest.mark.parametrize(("idle_for", "words"), [("-1", "0 or more"), ("1.5", "whole")])
def test_send_queued_refuses_a_bad_idle_for_before_touching_a_row(idle_for, words):
    Message.objects.create(mobile="13800138000", content="waiting", status="sending")
    with pytest.raises(CommandError, match=words):
        run("send_queued", "--idle-for", idle_for)
    assert Message.objects.get().status == "sending"


def test_send_queued_limit_caps_one_run(xunchen_outbox, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": "django_xunchen.backends.locmem.SMSBackend"}
    Message.objects.bulk_create([Message(mobile=f"1380000000{i}", content="w") for i in range(3)])
    assert run("send_queued", "--limit", "2").startswith("queued 2, sent 2 in 1 requests")
    assert Message.objects.filter(status="queued").count() == 1
