"""SIGTERM or Ctrl-C ends a runner cleanly: the request in flight finishes and its
outcome is written, nothing more is submitted or fetched, the locks are released, and
the command exits 143 (130 for SIGINT)."""

import os
import signal

import pytest
from django.core.management import call_command

from django_xunchen import stopping
from django_xunchen.backends import locmem
from django_xunchen.models import Message, PollLock

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


def queue(count: int) -> None:
    Message.objects.bulk_create(
        Message(mobile=f"139{n:08d}", content="您的订单已发货") for n in range(count)
    )


class SignalledDuringTheFirstRequest(locmem.SMSBackend):
    signum = signal.SIGTERM

    def send(self, request):
        if not locmem.outbox:
            os.kill(os.getpid(), self.signum)
        return super().send(request)


class InterruptedDuringTheFirstRequest(SignalledDuringTheFirstRequest):
    signum = signal.SIGINT


@pytest.mark.parametrize(
    ("backend", "code"),
    [("SignalledDuringTheFirstRequest", 143), ("InterruptedDuringTheFirstRequest", 130)],
)
def test_send_queued_finishes_the_request_in_flight_and_submits_no_other(
    settings, xunchen_outbox, backend, code
):
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "BATCH_SIZE": 100,
        "BACKEND": f"{__name__}.{backend}",
    }
    queue(250)
    # What the process had before (a shell that starts a job in the background leaves
    # SIGINT ignored): the command must give it back.
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    with pytest.raises(SystemExit) as stopped:
        call_command("send_queued")
    assert stopped.value.code == code
    assert len(xunchen_outbox) == 1, "no second request after the signal"
    statuses = list(Message.objects.values_list("status", flat=True))
    assert statuses.count(S.SENT) == 100, "the request in flight has its outcome"
    assert statuses.count(S.QUEUED) == 150
    assert {signum: signal.getsignal(signum) for signum in before} == before
    assert not stopping.requested(), "the next send in this process is not stopped"


def test_without_a_signal_the_runner_exits_as_usual(settings, xunchen_outbox):
    queue(250)
    call_command("send_queued")
    assert Message.objects.filter(status=S.SENT).count() == 250


class SignalledDuringTheFetch(locmem.SMSBackend):
    def fetch_reports(self):
        os.kill(os.getpid(), signal.SIGTERM)
        return super().fetch_reports()


def test_poll_sms_finishes_the_fetch_in_flight_fetches_nothing_more_and_releases_its_lock(
    settings, xunchen_outbox
):
    from django_xunchen import send_sms

    send_sms(["13800138000", "13900139000"], "您的订单已发货")
    locmem.deliver_all()
    locmem.queue_reply("13800138000", "好的")
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": f"{__name__}.SignalledDuringTheFetch"}
    with pytest.raises(SystemExit) as stopped:
        call_command("poll_sms", "--force")
    assert stopped.value.code == 143
    assert Message.objects.filter(status=S.DELIVERED).count() == 2, "the fetch was ingested"
    assert locmem._replies, "the replies were not fetched after the signal"
    assert PollLock.objects.count() == 0


def test_a_second_signal_stops_at_once():
    with stopping.graceful():
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping.requested() and stopping.exit_code() == 143
        with pytest.raises(SystemExit) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.value.code == 143


def test_a_stop_during_one_account_s_poll_leaves_the_next_account_for_the_next_poll(
    settings, xunchen_outbox
):
    from django_xunchen import poll

    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "ACCOUNTS": {
            "default": {"BACKEND": f"{__name__}.SignalledDuringTheFetch"},
            "z_also": {"BACKEND": "django_xunchen.backends.locmem.SMSBackend", "USERNAME": "Z"},
        },
    }
    with stopping.graceful():
        result = poll(force=True)
        assert stopping.requested()
    assert list(result.accounts) == ["default"]
    assert PollLock.objects.count() == 0
