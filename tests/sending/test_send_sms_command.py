"""The ``send_sms`` command: content, a template, its kind and account, bad input."""

import io

import pytest
from django.core.management import CommandError, call_command

from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


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


def test_the_send_sms_command_takes_kind_and_account(three_accounts, xunchen_outbox):
    call_command("send_sms", "--to", "13800138000", "--content", "码 1", "--kind", "verification")
    call_command("send_sms", "--to", "13800138000", "--content", "hi", "--account", "default")
    assert [s.account for s in xunchen_outbox] == ["codes", "default"]
    with pytest.raises(CommandError, match="may not send notification"):
        call_command("send_sms", "--to", "13800138000", "--content", "hi", "--account", "codes")
