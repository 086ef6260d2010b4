"""Background sending on Django's Tasks framework: exactly once, retries, the tick."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from django_xunchen import send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import NotSentError
from django_xunchen.models import Message, PollLock
from django_xunchen.tasks import TICK_LOCK, ensure_ticking, send_messages, tick

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NUMBERS = [f"138{i:08d}" for i in range(250)]
DUMMY = f"{settings.TASKS_MODULE}.backends.dummy.DummyBackend"
NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def dummy(settings):
    """A backend that keeps tasks instead of running them, with our two queues."""
    settings.TASKS = {"default": {"BACKEND": DUMMY, "QUEUES": ["default", "sms-codes"]}}
    from django_xunchen.tasks import task_backends

    backend = task_backends["default"]
    backend.clear()
    yield backend
    backend.clear()


def enqueued(backend, name):
    return [r for r in backend.results if r.task.name == name]


def test_with_the_immediate_backend_a_background_send_goes_out_at_once(xunchen_outbox):
    rows = send_sms(NUMBERS, "后台发送", background=True)
    assert {r.status for r in rows} == {S.QUEUED}, "the caller gets the rows as stored"
    assert set(Message.objects.values_list("status", flat=True)) == {S.SENT}
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 250
    assert not PollLock.objects.filter(name=TICK_LOCK).exists(), "no tick without run_after"


def test_with_a_deferring_backend_the_rows_wait_for_a_worker(dummy, xunchen_outbox):
    send_sms(NUMBERS, "后台发送", background=True)
    assert set(Message.objects.values_list("status", flat=True)) == {S.QUEUED}
    assert not xunchen_outbox
    (task,) = enqueued(dummy, "send_messages")
    assert task.task.queue_name == "default" and len(task.args[0]) == 250
    (ticking,) = enqueued(dummy, "tick")
    assert ticking.task.run_after > timezone.now()
    assert send_messages.call(*task.args) == {"sent": 250, "requests": 3, "left": 0}
    assert send_messages.call(*task.args)["sent"] == 0, "a task run twice sends nothing twice"
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 250


def test_a_send_inside_a_rolled_back_transaction_enqueues_nothing(dummy, xunchen_outbox):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        send_sms(NUMBERS[:3], "x", background=True)
        raise RuntimeError
    assert not dummy.results and not Message.objects.exists()


def test_verification_messages_go_on_their_own_queue(dummy):
    send_sms("13800138000", "您的验证码是 1234", kind="verification", background=True)
    (task,) = enqueued(dummy, "send_messages")
    assert task.task.queue_name == "sms-codes"


@time_machine.travel(NOW, tick=False)
def test_a_certainly_not_sent_batch_is_retried_later_with_backoff(dummy, xunchen_outbox):
    rows = send_sms(NUMBERS[:2], "x", background=True)
    dummy.clear()
    locmem.fail_next(NotSentError("refused"))
    assert send_messages.call([r.pk for r in rows])["left"] == 2
    (retry,) = enqueued(dummy, "send_messages")
    assert sorted(retry.args[0]) == sorted(r.pk for r in rows) and retry.args[1] == 1
    assert retry.task.run_after == NOW + dt.timedelta(seconds=60), "a minute for the first retry"
    assert send_messages.call(*retry.args)["sent"] == 2
    dummy.clear()
    locmem.fail_next(NotSentError("refused"))
    rows = send_sms(NUMBERS[2:3], "y", background=True)
    dummy.clear()
    send_messages.call([rows[0].pk], 5)
    assert not enqueued(dummy, "send_messages"), "after TASK_RETRIES, the tick takes over"


def test_the_tick_chain_runs_once(dummy):
    assert ensure_ticking() is True
    assert ensure_ticking() is False, "one chain at a time"
    assert len(enqueued(dummy, "tick")) == 1
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        assert ensure_ticking() is True, "a chain whose worker died is started again"
    assert len(enqueued(dummy, "tick")) == 2


def test_the_tick_sweeps_a_killed_worker_s_rows_and_sends_the_rest(dummy, xunchen_outbox):
    rows = send_sms(NUMBERS[:3], "x", background=True)
    Message.objects.filter(pk=rows[0].pk).update(status=S.SENDING)  # its worker was killed
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=10)):
        result = tick.call()
    assert (result["stale"], result["sent"]) == (1, 2)
    assert dict(Message.objects.values_list("pk", "status")) == {
        rows[0].pk: S.UNKNOWN,
        rows[1].pk: S.SENT,
        rows[2].pk: S.SENT,
    }
    assert enqueued(dummy, "tick"), "and schedules the next tick"


@pytest.mark.parametrize("orphaned_after", [None, 600])
def test_the_tick_leaves_fresh_rows_to_their_send_task(
    dummy, xunchen_outbox, settings, orphaned_after
):
    """Rows whose task is on its way are spread over the workers by that task; the tick
    sends only the rows no task is coming for (untouched for ORPHANED_AFTER, 60 s unless
    set), and held rows once they are due."""
    if orphaned_after:
        settings.XUNCHEN = {**settings.XUNCHEN, "ORPHANED_AFTER": orphaned_after}
    wait = orphaned_after or 60
    fresh = send_sms(NUMBERS[:2], "x", background=True)
    held = send_sms(NUMBERS[2:3], "y", background=True)
    Message.objects.filter(pk=held[0].pk).update(hold_until=timezone.now())
    assert tick.call()["sent"] == 1, "only the held row, now due"
    assert Message.objects.get(pk=held[0].pk).status == S.SENT
    assert {m.status for m in Message.objects.filter(pk__in=[r.pk for r in fresh])} == {S.QUEUED}
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=wait - 5)):
        assert tick.call()["sent"] == 0
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=wait + 1)):
        assert tick.call()["sent"] == 2, "their task was lost: the tick sends them"
    assert sum(len(s.mobiles) for s in xunchen_outbox) == 3


def test_a_send_task_restarts_a_chain_whose_worker_died(dummy, xunchen_outbox):
    rows = send_sms(NUMBERS[:1], "x", background=True)
    assert len(enqueued(dummy, "tick")) == 1
    dummy.clear()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=5)):
        send_messages.call([rows[0].pk])
    assert len(enqueued(dummy, "tick")) == 1, "the tick that died is replaced"


def test_send_queued_refuses_a_bad_idle_for():
    from django_xunchen.dispatch.queue import send_queued

    for bad in (-1, "60", True):
        with pytest.raises(ValueError, match="idle_for must be a number of seconds"):
            send_queued(idle_for=bad)


def test_the_system_check_names_a_queue_the_task_backend_refuses(settings):
    from django_xunchen.operations.checks import check_settings

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKGROUND": True}
    settings.TASKS = {"default": {"BACKEND": DUMMY, "QUEUES": ["default"]}}
    found = [m for m in check_settings() if m.id == "django_xunchen.E013"]
    assert len(found) == 1 and "sms-codes" in found[0].msg
    settings.TASKS = {"default": {"BACKEND": DUMMY, "QUEUES": ["default", "sms-codes"]}}
    assert not [m for m in check_settings() if m.id == "django_xunchen.E013"]


def test_the_sms_tasks_command(dummy, xunchen_outbox, capsys):
    from django.core.management import call_command

    call_command("sms_tasks", "--start")
    call_command("sms_tasks", "--start")
    assert capsys.readouterr().out.splitlines() == [
        "tick chain started",
        "tick chain already running",
    ]
    send_sms("13800138000", "x", background=True)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=2)):
        call_command("sms_tasks", "--tick")
    assert "sent 1 in 1 requests" in capsys.readouterr().out


def test_a_background_admin_send(dummy, admin_client, settings, xunchen_outbox):
    from django.urls import reverse

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKGROUND": True}
    response = admin_client.post(
        reverse("admin:django_xunchen_message_send"), {"mobiles": "13800138000", "content": "x"}
    )
    assert response.status_code == 302
    assert Message.objects.get().status == S.QUEUED and not xunchen_outbox
    assert enqueued(dummy, "send_messages")
