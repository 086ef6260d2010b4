"""An SMS the gateway accepted always ends with its msgid: the outcome write is retried
(backing off, within its window), keyed by the message ids, and spooled to disk when
the database keeps refusing; a later run applies the spool, a bad file never stopping
the files after it."""

import contextlib
import json
import logging
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from django_xunchen import poll, resend, send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.backends.locmem import SMSBackend as LocmemBackend
from django_xunchen.dispatch.claim import stale_after
from django_xunchen.dispatch.submit import dispatch
from django_xunchen.exceptions import BlockedWordsError
from django_xunchen.models import Message
from django_xunchen.outcomes import spool
from django_xunchen.outcomes import write as outcomes
from django_xunchen.outcomes.write import Outcome, with_retries

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


class Interrupted(BaseException):
    """Stands for Ctrl-C (a BaseException, as KeyboardInterrupt is) without stopping the
    test runner, which treats a real KeyboardInterrupt as the user's."""


class RefuseOutcome:
    """An execute wrapper: the UPDATE that records a ``sent`` outcome fails ``times``
    times as a locked or restarting database answers, before it reaches the database."""

    def __init__(self, times, message="database is locked"):
        self.times = times
        self.message = message
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        if self.times and _is_outcome_update(sql, params):
            self.times -= 1
            self.refused += 1
            raise OperationalError(self.message)
        return execute(sql, params, many, context)


def _is_outcome_update(sql, params):
    return (
        sql.lstrip().upper().startswith("UPDATE")
        and "xunchen_message" in sql
        and params is not None
        and "sent" in [p for p in params if isinstance(p, str)]
    )


@pytest.fixture
def quick_retries(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "OUTCOME_RETRY_SECONDS": 0.5}


def test_a_database_refusing_for_a_moment_still_gets_the_msgid(gateway, caplog):
    refuse = RefuseOutcome(times=3)
    with connection.execute_wrapper(refuse):
        (message,) = send_sms("13800138000", "x")
    assert refuse.refused == 3
    stored = Message.objects.get()
    assert stored.status == "sent"
    assert stored.msgid == gateway.submissions[0].msgid == message.msgid
    assert "recording a send's outcome failed (attempt 3, OperationalError: " in caplog.text


def test_a_database_that_keeps_refusing_spools_the_outcome_and_a_later_run_applies_it(
    gateway, quick_retries, isolated_spool, caplog, events
):
    with connection.execute_wrapper(RefuseOutcome(times=10_000)):
        (message,) = send_sms("13800138000", "x")
    msgid = gateway.submissions[0].msgid
    assert message.status == "sent" and message.msgid == msgid, "the caller is told the truth"
    assert Message.objects.get().status == "sending", "the database has not got it yet"
    (spooled,) = list(isolated_spool.glob("*.json"))
    record = json.loads(spooled.read_text())
    assert record["msgid"] == msgid and record["ids"] == [message.pk]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(msgid in r.getMessage() and str(message.pk) in r.getMessage() for r in errors)
    assert not [e for e in events if e[0] == "message_sent"]

    counts = send_queued()
    assert counts["spooled"] == 1
    assert not list(isolated_spool.glob("*.json"))
    stored = Message.objects.get()
    assert (stored.status, stored.msgid) == ("sent", msgid)
    assert [e[1]["message"].pk for e in events if e[0] == "message_sent"] == [message.pk]

    gateway.deliver_now()
    poll(force=True)
    assert Message.objects.get().status == "delivered", "its report matches"


def test_poll_applies_the_spool_too(gateway, quick_retries, isolated_spool):
    with connection.execute_wrapper(RefuseOutcome(times=10_000)):
        send_sms("13800138000", "x")
    gateway.deliver_now()
    result = poll(force=True)
    assert result.spooled == 1
    assert Message.objects.get().status == "delivered"


def test_the_first_send_of_a_process_applies_the_spool(gateway, quick_retries, isolated_spool):
    from django_xunchen.outcomes import write as outcomes

    with connection.execute_wrapper(RefuseOutcome(times=10_000)):
        send_sms("13800138000", "x")
    outcomes._applied_in_process = False  # a new process
    send_sms("13900000000", "y")
    assert sorted(Message.objects.values_list("status", flat=True)) == ["sent", "sent"]


def test_an_unusable_spool_keeps_the_msgid_in_a_critical_log(
    gateway, quick_retries, settings, tmp_path, caplog
):
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings.XUNCHEN = {**settings.XUNCHEN, "SPOOL_DIR": str(blocker / "spool")}
    with connection.execute_wrapper(RefuseOutcome(times=10_000)):
        send_sms("13800138000", "x")
    critical = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert any(gateway.submissions[0].msgid in text for text in critical)


def test_a_corrupt_spool_file_is_set_aside_and_does_not_block(isolated_spool, db):
    isolated_spool.mkdir()
    (isolated_spool / "0001.json").write_text("{not json")
    assert send_queued()["spooled"] == 0
    assert (isolated_spool / "0001.bad").exists()


@pytest.mark.parametrize(
    "kind",
    ["SQLite lock", pytest.param("PostgreSQL abort", marks=pytest.mark.postgres_only)],
)
def test_a_retry_inside_a_transaction_uses_a_savepoint(kind, xunchen_outbox):
    """Inside atomic, PostgreSQL refuses every statement after an error until a rollback:
    each attempt runs in a savepoint. The PostgreSQL case makes a real statement fail."""
    calls = {"n": 0}

    def fail_once(execute, sql, params, many, context):
        if calls["n"] == 0 and _is_outcome_update(sql, params):
            calls["n"] += 1
            if kind == "SQLite lock":
                raise OperationalError("database is locked")
            execute("SET LOCAL statement_timeout = 20", None, False, context)
            execute("SELECT pg_sleep(1)", None, False, context)
        return execute(sql, params, many, context)

    with transaction.atomic():
        rows = send_sms("13800138000", "x", backend="django_xunchen.backends.dummy.SMSBackend")
        Message.objects.filter(pk=rows[0].pk).update(status="queued")
        with connection.execute_wrapper(fail_once):
            dispatch(rows, LocmemBackend())
        if kind == "PostgreSQL abort":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = 0")
        assert calls["n"] == 1
        assert Message.objects.get().status == "sent"


@pytest.mark.postgres_only
def test_a_connection_dropped_during_the_request_is_reopened_for_the_outcome(gateway):
    """A real fault: another session terminates ours while the request is in flight."""
    gateway.inject_fault("latency", seconds=1, method="sendUtf8Msg")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()

    def terminate():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.3); SELECT pg_terminate_backend(%s)", [pid])
        finally:
            other.close()

    killer = threading.Thread(target=terminate)
    killer.start()
    try:
        (message,) = send_sms("13800138000", "x")
    finally:
        killer.join(10)
    assert not killer.is_alive()
    assert Message.objects.get().status == "sent"
    assert Message.objects.get().msgid == message.msgid == gateway.submissions[0].msgid


# ------------------------------------------------------------------ late outcomes


class SweptDuringTheRequest(LocmemBackend):
    """The stale sweep (or staff) acts on the rows while the request is in flight."""

    resend_meanwhile = False
    refuse = False

    def send(self, request):
        rows = list(Message.objects.filter(status="sending"))
        Message.objects.filter(pk__in=[r.pk for r in rows]).update(status="unknown", claim=None)
        if self.resend_meanwhile:
            resend(Message.objects.filter(pk__in=[r.pk for r in rows]), backend=DUMMY)
        if self.refuse:
            self.mark_request_started()
            raise BlockedWordsError("110", "send", words=["赌博"])
        return super().send(request)


DUMMY = "django_xunchen.backends.dummy.SMSBackend"


def test_a_late_outcome_lands_on_a_row_the_sweep_marked_unknown(xunchen_outbox, events):
    (message,) = send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    dispatch([message], SweptDuringTheRequest())
    stored = Message.objects.get()
    assert stored.status == "sent"
    assert stored.msgid == xunchen_outbox[0].msgid
    assert [e[1]["message"].pk for e in events if e[0] == "message_sent"][-1] == message.pk


def test_a_late_outcome_after_a_resend_keeps_both_rows_linked(xunchen_outbox):
    (message,) = send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    backend = SweptDuringTheRequest()
    backend.resend_meanwhile = True
    dispatch([message], backend)
    original = Message.objects.get(pk=message.pk)
    (copy,) = original.resends.all()
    assert original.status == "sent" and original.msgid == xunchen_outbox[0].msgid
    assert copy.resent_from_id == original.pk


def test_a_late_refusal_lands_as_failed(xunchen_outbox):
    (message,) = send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    backend = SweptDuringTheRequest()
    backend.refuse = True
    dispatch([message], backend)
    stored = Message.objects.get()
    assert (stored.status, stored.error_code, stored.blocked_words) == ("failed", "110", ["赌博"])


def test_the_sweep_leaves_rows_younger_than_deadline_plus_retries_plus_margin(settings, db):
    import datetime as dt

    from django.utils import timezone

    settings.XUNCHEN = {**settings.XUNCHEN, "REQUEST_DEADLINE": 60, "OUTCOME_RETRY_SECONDS": 60}
    assert stale_after() == dt.timedelta(seconds=180)
    young = Message.objects.create(mobile="13800138000", content="x", status="sending")
    old = Message.objects.create(mobile="13900000000", content="x", status="sending")
    now = timezone.now()
    Message.objects.filter(pk=young.pk).update(updated_at=now - dt.timedelta(seconds=170))
    Message.objects.filter(pk=old.pk).update(updated_at=now - dt.timedelta(seconds=190))
    assert send_queued()["stale"] == 1
    assert Message.objects.get(pk=young.pk).status == "sending"
    assert Message.objects.get(pk=old.pk).status == "unknown"


# ------------------------------------------------------------------ never left


class BuggyBeforeTheRequest(LocmemBackend):
    def send(self, request):
        raise RuntimeError("a bug in a custom backend")


class BuggyAfterTheRequest(LocmemBackend):
    def send(self, request):
        super().send(request)
        raise RuntimeError("a bug after the request")


class Untracked(locmem.SMSBackend):
    tracks_request_start = False

    def send(self, request):
        raise RuntimeError("who knows whether it left")


@pytest.mark.parametrize(
    ("backend", "status"),
    [
        (BuggyBeforeTheRequest, "queued"),
        (BuggyAfterTheRequest, "unknown"),
        (Untracked, "unknown"),
    ],
)
def test_only_rows_whose_request_may_have_left_become_unknown(backend, status, xunchen_outbox):
    (message,) = send_sms("13800138000", "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    with pytest.raises(RuntimeError):
        dispatch([message], backend())
    assert Message.objects.get().status == status


@pytest.mark.parametrize(
    ("where", "status"),
    [
        # Before the client's request leaves: nothing went out.
        ("django_xunchen.client.http.XunchenClient._post", "queued"),
        # While the request is out: it may have reached the gateway.
        ("requests.Session.post", "unknown"),
    ],
)
def test_an_interrupt_leaves_rows_queued_only_if_the_request_never_left(
    gateway, monkeypatch, where, status
):
    def interrupted(self, *args, **kwargs):
        raise Interrupted

    monkeypatch.setattr(where, interrupted)
    with pytest.raises(Interrupted):
        send_sms("13800138000", "x")
    assert Message.objects.get().status == status
    if status == "queued":
        assert gateway.requests == []


def test_send_queued_counts_only_what_this_run_sent(xunchen_outbox, settings):
    """Another process sends most of the rows while this one is between its SELECT
    and its claims; this run's total must not include them."""
    settings.XUNCHEN = {**settings.XUNCHEN, "BATCH_SIZE": 1}
    send_sms([f"1380000{i:04d}" for i in range(5)], "x", backend=DUMMY)
    Message.objects.update(status="queued", msgid="")
    inner = {}

    class OtherProcessMeanwhile(LocmemBackend):
        def send(self, request):
            result = super().send(request)
            if not inner:
                inner.update(send_queued(backend=LOCMEM))
            return result

    LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
    with contextlib.ExitStack():
        from django_xunchen import dispatch

        rows = list(Message.objects.order_by("pk"))
        outcome = dispatch.dispatch(rows, OtherProcessMeanwhile())
    assert inner["sent"] == 4
    assert outcome.sent == 1
    assert inner["sent"] + outcome.sent == Message.objects.filter(status="sent").count() == 5


@pytest.mark.parametrize("limit", [0, -1, 1.5, "10", True])
def test_send_queued_refuses_a_bad_limit_before_any_update(limit, db):
    Message.objects.create(mobile="13800138000", content="x", status="sending")
    with pytest.raises(ValueError, match="limit"):
        send_queued(limit=limit)
    assert Message.objects.get().status == "sending"


# ------------------------------------------------------------------ retries; applying the spool


def rows(*statuses):
    return [
        Message.objects.create(mobile=f"1380013800{i}", content="x", status=status)
        for i, status in enumerate(statuses)
    ]


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
