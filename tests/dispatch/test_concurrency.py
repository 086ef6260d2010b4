"""Real concurrency: threads and second connections with their own view of what is
committed (PostgreSQL)."""

import contextlib
import threading
from collections import Counter

import pytest
from django.db import connections

from django_xunchen import poll, send_queued, send_sms
from django_xunchen.backends.xunchen import SMSBackend as XunchenBackend
from django_xunchen.exceptions import OutcomeUnknownError
from django_xunchen.models import Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]


def _run_together(target, count):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            results.append(target())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a worker is still running"
    assert not errors, errors
    return results


def test_overlapping_polls_never_fetch_at_the_same_time(gateway):
    gateway.inject_fault("latency", seconds=1, method="queryReport")
    results = _run_together(poll, 4)
    fetches = [r for r in gateway.requests if r.get("method") == "queryReport"]
    assert len(fetches) == 1
    assert sum(1 for r in results if r.locked_by) == 3


def test_concurrent_senders_claim_each_row_once(gateway):
    Message.objects.bulk_create(
        [Message(mobile=f"138{i:08d}", content="once only") for i in range(300)]
    )
    counts = _run_together(send_queued, 4)
    assert sum(c["sent"] for c in counts) == 300, "each run counts only what it sent"
    sent = Counter(m for s in gateway.submissions for m in s.mobiles)
    assert len(sent) == 300
    assert max(sent.values()) == 1, "no number was sent twice"
    assert Message.objects.filter(status="sent").count() == 300


def _read_elsewhere(sql):
    """``sql`` through a second connection: what other processes see, committed only."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        other.close()


class SpyWhileInFlight(XunchenBackend):
    seen: list = []

    def send(self, request):
        SpyWhileInFlight.seen = _read_elsewhere("SELECT status, claim FROM django_xunchen_message")
        return super().send(request)

    def scan_reports(self, raw):
        SpyWhileInFlight.seen = _read_elsewhere(
            "SELECT operation, state FROM django_xunchen_polljournalentry"
        )
        return super().scan_reports(raw)


SPY = f"{__name__}.SpyWhileInFlight"


def test_the_claim_is_committed_before_the_request_leaves(gateway):
    from django_xunchen import send_sms

    send_sms(["13800138000", "13900000000"], "x", backend=SPY)
    assert [row[0] for row in SpyWhileInFlight.seen] == ["sending", "sending"]
    assert all(row[1] is not None for row in SpyWhileInFlight.seen)


def test_the_journal_entry_is_committed_before_it_is_parsed(gateway, settings):
    from django_xunchen import send_sms

    send_sms("13800138000", "x")
    gateway.deliver_now()
    poll(inbound=False, backend=SPY)
    assert SpyWhileInFlight.seen == [("queryReport", "pending")]


def test_twenty_concurrent_code_requests_for_one_number_send_once(gateway):
    from django_xunchen.models import ThrottleBucket
    from django_xunchen.verification.codes import RequestStatus, request_code

    # The number asked before: its rows exist, so that only the row locks keep order.
    ThrottleBucket.objects.create(key="mobile:13800138000")
    ThrottleBucket.objects.create(key="prefix:1380013")
    results = _run_together(lambda: request_code("13800138000", "login"), 20)
    assert Counter(r.status for r in results) == {
        RequestStatus.SENT: 1,
        RequestStatus.THROTTLED: 19,
    }
    assert [s.mobiles for s in gateway.submissions] == [("13800138000",)]


def test_twenty_concurrent_code_requests_for_a_number_never_seen_send_once(gateway, monkeypatch):
    """No throttle bucket exists yet for the number or its prefix: the requests create
    them, and the row locks still let only one of them through.

    The window between a request's count and its commit is held open: each request
    that has counted waits (up to 2 s) for a second one to count too. Under the locks
    none can, and the first goes on alone; without them, two count before either
    commits, every time."""
    from django_xunchen.models import ThrottleBucket
    from django_xunchen.verification import codes
    from django_xunchen.verification.codes import RequestStatus, request_code

    counted_together = threading.Barrier(2, timeout=2)
    real_judge = codes._judge

    def judge(*args, **kwargs):
        verdict = real_judge(*args, **kwargs)
        # Broken after a wait alone: nobody could count meanwhile (from then on, none waits).
        with contextlib.suppress(threading.BrokenBarrierError):
            counted_together.wait()
        return verdict

    monkeypatch.setattr(codes, "_judge", judge)
    assert not ThrottleBucket.objects.exists()
    results = _run_together(lambda: request_code("13912345678", "login"), 20)
    assert Counter(r.status for r in results) == {
        RequestStatus.SENT: 1,
        RequestStatus.THROTTLED: 19,
    }
    assert [s.mobiles for s in gateway.submissions] == [("13912345678",)]
    assert sorted(ThrottleBucket.objects.values_list("key", flat=True)) == [
        "mobile:13912345678",
        "prefix:1391234",
    ]


def test_fifty_concurrent_wrong_guesses_cannot_exceed_the_attempt_limit(gateway):
    from django_xunchen.models import VerificationCode
    from django_xunchen.verification.codes import CheckStatus, check_code, request_code

    assert request_code("13800138000").sent
    code = next(s.text for s in gateway.submissions)
    right = "".join(c for c in code if c.isdigit())[:6]
    wrong = str((int(right) + 1) % 10**6).zfill(6)
    results = _run_together(lambda: check_code("13800138000", wrong), 50)
    statuses = Counter(r.status for r in results)
    assert statuses == {CheckStatus.WRONG: 5, CheckStatus.TOO_MANY_ATTEMPTS: 45}
    record = VerificationCode.objects.get()
    assert (record.attempts, record.state) == (5, VerificationCode.State.DEAD)
    assert check_code("13800138000", right).status == CheckStatus.TOO_MANY_ATTEMPTS


def test_concurrency_sends_requests_at_once_each_number_once(gateway, settings, monkeypatch):
    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 4}
    gateway.inject_fault("latency", seconds=0.3, method="sendUtf8Msg", times=10)
    senders, real = set(), XunchenBackend.send

    def send(self, request):
        senders.add((threading.current_thread().name, id(self)))
        return real(self, request)

    monkeypatch.setattr(XunchenBackend, "send", send)
    numbers = [f"138{i:08d}" for i in range(1000)]
    rows = send_sms(numbers, "并发发送")
    assert {r.status for r in rows} == {"sent"}
    sent = Counter(m for s in gateway.submissions for m in s.mobiles)
    assert len(sent) == 1000 and max(sent.values()) == 1
    assert len(gateway.submissions) == 10
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    assert {name for name, _ in senders} == {f"xunchen-send-{i}" for i in range(4)}, (
        "four threads sent, named for the logs"
    )
    assert len({backend for _, backend in senders}) == 4, "each on its own connection"


def test_concurrency_stops_an_account_after_it_certainly_failed(gateway, settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 3}
    gateway.account.enabled = False
    rows = send_sms([f"138{i:08d}" for i in range(1000)], "x", fail_silently=True)
    assert len(gateway.submissions) == 0
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses["failed"] <= 3 * 100, "at most one request per thread was tried"
    assert statuses["queued"] >= 700
    assert len(rows) == 1000


def test_concurrency_stops_every_thread_after_an_unknown_outcome(gateway, settings):
    """Each request whose answer is lost stops the send: no thread takes another chunk,
    whatever the size of the chunks (here one number each)."""
    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 3, "BATCH_SIZE": 1}
    gateway.inject_fault("drop", method="sendUtf8Msg", times=100)
    with pytest.raises(OutcomeUnknownError):
        send_sms([f"138{i:08d}" for i in range(12)], "x")
    tried = len(gateway.submissions)
    assert 1 <= tried <= 3, "at most the request each thread had under way"
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {"unknown": tried, "queued": 12 - tried}


def test_concurrency_goes_on_with_other_accounts_after_one_certainly_failed(two_logins, settings):
    """The chunks of an account stopped by a certain failure are skipped, and the threads
    go on to the chunks of the accounts after it."""
    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 2, "BATCH_SIZE": 1}
    two_logins.state.accounts["A"].enabled = False
    Message.objects.bulk_create(
        [Message(mobile=f"138{i:08d}", content="a", account="default") for i in range(6)]
        + [Message(mobile=f"139{i:08d}", content="b", account="codes") for i in range(4)]
    )
    counts = send_queued()
    statuses = Counter(Message.objects.values_list("account", "status"))
    assert statuses[("codes", "sent")] == 4
    assert 1 <= statuses[("default", "failed")] <= 2, "at most one request per thread"
    assert statuses[("default", "failed")] + statuses[("default", "queued")] == 6
    assert (counts["sent"], counts["requests"]) == (4, 4 + statuses[("default", "failed")])


def test_a_thread_s_crash_is_raised_as_it_was(gateway, settings, monkeypatch):
    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 2, "BATCH_SIZE": 1}
    real = XunchenBackend.send

    def send(self, request):
        if "13800000002" in request.mobiles:
            raise RuntimeError("the backend broke")
        return real(self, request)

    monkeypatch.setattr(XunchenBackend, "send", send)
    with pytest.raises(RuntimeError, match="the backend broke"):
        send_sms(["13800000001", "13800000002", "13800000003"], "x")


def test_every_thread_sends_through_the_backend_the_send_named(gateway, settings):
    from django_xunchen.backends import locmem

    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 2, "BATCH_SIZE": 1}
    locmem.reset()
    numbers = ["13800000001", "13800000002", "13800000003"]
    send_sms(numbers, "x", backend="django_xunchen.backends.locmem.SMSBackend")
    assert gateway.submissions == []
    assert sorted(m for sms in locmem.outbox for m in sms.mobiles) == numbers


def test_a_stop_asked_during_a_threaded_send_submits_no_further_request(
    gateway, settings, monkeypatch
):
    """SIGTERM during a send with CONCURRENCY: the requests under way finish and are
    written, no thread takes another chunk."""
    from django_xunchen import stopping

    settings.XUNCHEN = {**settings.XUNCHEN, "CONCURRENCY": 2, "BATCH_SIZE": 1}
    real = XunchenBackend.send

    def send(self, request):
        stopping.request()
        return real(self, request)

    monkeypatch.setattr(XunchenBackend, "send", send)
    Message.objects.bulk_create(Message(mobile=f"138{i:08d}", content="x") for i in range(10))
    with stopping.graceful():
        counts = send_queued()
    tried = len(gateway.submissions)
    assert 1 <= tried <= 2, "at most the request each thread had under way"
    statuses = Counter(Message.objects.values_list("status", flat=True))
    assert statuses == {"sent": tried, "queued": 10 - tried}
    assert counts["requests"] == tried


def test_a_fallback_found_down_by_another_thread_is_not_tried_again(settings, monkeypatch):
    """Two threads, one chunk each, both on ``default`` (fallbacks ``b`` then ``c``). The
    first finds ``default`` and then ``b`` certainly not sent and goes on to ``c``; only
    then does the second learn ``default`` is down too: it skips ``b``, which another
    thread found down while this one waited, and goes straight to ``c``."""
    from django_xunchen.backends import locmem
    from django_xunchen.exceptions import AccountDisabledError, NotSentError

    lm = "django_xunchen.backends.locmem.SMSBackend"
    settings.XUNCHEN = {
        **settings.XUNCHEN,
        "CONCURRENCY": 2,
        "BATCH_SIZE": 1,
        "ACCOUNTS": {
            "default": {"BACKEND": lm, "FALLBACK": "b"},
            "b": {"BACKEND": lm, "USERNAME": "B", "FALLBACK": "c", "KINDS": ["notification"]},
            "c": {"BACKEND": lm, "USERNAME": "C", "KINDS": ["notification"]},
        },
    }
    locmem.reset()
    both_on_default = threading.Barrier(2, timeout=20)
    first_reached_c = threading.Event()
    tried, real = [], locmem.SMSBackend.send

    def send(self, request):
        tried.append(self.account)
        if self.account == "default":
            if both_on_default.wait() != 0:
                assert first_reached_c.wait(20), f"the first thread never reached c: {tried}"
            raise AccountDisabledError("102", "send")
        if self.account == "b":
            raise NotSentError("refused before it left")
        first_reached_c.set()
        return real(self, request)

    monkeypatch.setattr(locmem.SMSBackend, "send", send)
    rows = send_sms(["13800000001", "13800000002"], "x")
    assert {r.status for r in rows} == {"sent"}
    assert Counter(tried) == {"default": 2, "b": 1, "c": 2}
    assert sorted(sms.account for sms in locmem.outbox) == ["c", "c"]
