"""The ``send_queued`` command: its limit and idle time, refused before a row is touched."""

import io

import pytest
from django.core.management import CommandError, call_command

from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


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
