"""The outcome write at its edges: an outcome that finds some of its rows already moved
on, the signals it sends, the retry schedule, and the spool when it is applied."""

import logging

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from django_xunchen import send_queued, send_sms
from django_xunchen.exceptions import GatewayError, XunchenError
from django_xunchen.models import Message
from django_xunchen.outcomes import spool
from django_xunchen.outcomes import write as outcomes
from django_xunchen.outcomes.write import Outcome, land, with_retries

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


def rows(*statuses):
    return [
        Message.objects.create(mobile=f"1380013800{i}", content="x", status=status)
        for i, status in enumerate(statuses)
    ]


def test_an_outcome_lands_only_on_the_rows_it_may_move_and_signals_only_those(events):
    sending, unknown, delivered, sent = rows(S.SENDING, S.UNKNOWN, S.DELIVERED, S.SENT)
    outcome = Outcome([m.pk for m in (sending, unknown, delivered, sent)], S.SENT, msgid="m9")
    in_memory = [sending, unknown, delivered, sent]
    changed = land(outcome, in_memory)
    assert sorted(changed) == sorted([sending.pk, unknown.pk])
    assert [m.status for m in in_memory] == [S.SENT, S.SENT, S.DELIVERED, S.SENT]
    assert sent.msgid == "" and Message.objects.get(pk=sent.pk).msgid == ""
    assert Message.objects.get(pk=delivered.pk).status == S.DELIVERED
    signalled = sorted(e[1]["message"].pk for e in events if e[0] == "message_sent")
    assert signalled == sorted([sending.pk, unknown.pk])


def test_an_outcome_that_finds_every_row_moved_on_changes_nothing(events):
    delivered, failed = rows(S.DELIVERED, S.FAILED)
    assert land(Outcome([delivered.pk, failed.pk], S.SENT, msgid="m9"), [delivered]) == []
    assert delivered.status == S.DELIVERED and not events


def test_a_failure_signal_carries_the_error_that_caused_it(events):
    first, second = rows(S.SENDING, S.SENDING)
    error = GatewayError("110", "含有屏蔽词")
    land(Outcome([first.pk], S.FAILED, error_code="110", error_message="blocked"), [], error)
    land(Outcome([second.pk], S.UNKNOWN, error_message="the answer broke off"))
    (given, made) = [e[1]["error"] for e in events if e[0] == "message_failed"]
    assert given is error
    assert type(made) is XunchenError and str(made) == "the answer broke off"


class Clock:
    """time.monotonic and time.sleep that only move when slept."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_retries_back_off_doubling_and_stop_at_the_window(monkeypatch, caplog):
    clock = Clock()
    monkeypatch.setattr(outcomes.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(outcomes.time, "sleep", clock.sleep)
    closed = []
    monkeypatch.setattr(connection, "close", lambda: closed.append(clock.now))

    def refused():
        raise OperationalError("database is locked")

    window = 0.05 + 0.1 + 0.2  # the third wait ends exactly at the window: it is waited
    with pytest.raises(OperationalError), caplog.at_level("WARNING"):
        with_retries(refused, window, "writing it")
    assert clock.slept == [0.05, 0.1, 0.2]
    assert caplog.messages == [
        f"writing it failed (attempt {n}, OperationalError: database is locked); "
        f"retrying in {wait:.2f} s"
        for n, wait in [(1, 0.05), (2, 0.1), (3, 0.2)]
    ]
    assert len(closed) == 3, "outside atomic each retry gets a new connection"

    clock.slept.clear()
    with pytest.raises(OperationalError):
        with_retries(refused, 60, "writing it")
    assert clock.slept[:7] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0] and max(clock.slept) == 2.0
    assert sum(clock.slept) <= 60 < sum(clock.slept) + 2.0


def test_a_spooled_outcome_s_log_names_the_database_error(
    gateway, settings, isolated_spool, caplog
):
    from .test_outcome_write import RefuseOutcome

    settings.XUNCHEN = {**settings.XUNCHEN, "OUTCOME_RETRY_SECONDS": 0}
    with connection.execute_wrapper(RefuseOutcome(times=10_000, message="server restarting")):
        send_sms("13800138000", "x")
    (logged,) = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert logged.startswith(
        "the database refused a send's outcome (OperationalError: server restarting); "
    )


def spooled(ids, msgid):
    return spool.write(Outcome(ids, S.SENT, msgid=msgid, submitted_at=timezone.now()).to_json())


def test_a_bad_spool_file_does_not_stop_the_files_after_it(isolated_spool):
    (message,) = rows(S.SENDING)
    isolated_spool.mkdir()
    (isolated_spool / "0000.json").write_text("{not json")
    spooled([message.pk], "m1")
    assert send_queued()["spooled"] == 1
    assert Message.objects.get().msgid == "m1"


def test_a_database_that_still_refuses_keeps_the_rest_of_the_spool_without_waiting(
    isolated_spool, caplog
):
    first, second = rows(S.SENDING, S.SENDING)
    spooled([first.pk], "m1")
    spooled([second.pk], "m2")
    calls = []

    def refuse_the_second(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("UPDATE") and "xunchen_message" in sql:
            calls.append(sql)
            if len(calls) > 1:
                raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_the_second), caplog.at_level("WARNING"):
        assert outcomes.apply_spool() == 1
    assert len(calls) == 2, "no retry: the next run tries again"
    assert not [m for m in caplog.messages if "retrying" in m]
    assert len(spool.pending()) == 1
    assert dict(Message.objects.values_list("pk", "msgid")) == {first.pk: "m1", second.pk: ""}


def test_only_the_first_send_of_a_process_looks_at_the_spool(isolated_spool, xunchen_outbox):
    assert outcomes._applied_in_process is False, "isolated_spool starts a new process"
    send_sms("13800138000", "x")
    (message,) = rows(S.SENDING)
    spooled([message.pk], "m1")
    send_sms("13800138001", "y")
    assert len(spool.pending()) == 1, "left for send_queued or poll_sms"
    assert send_queued()["spooled"] == 1
