"""Each way a request can end leaves its rows with exactly the status, code and text
that say what happened, and signals the error that happened; an outcome lands only on
the rows it may still move."""

import pytest
from django.utils import timezone

from django_xunchen import send_sms
from django_xunchen.backends import locmem
from django_xunchen.backends.locmem import SMSBackend as LocmemBackend
from django_xunchen.dispatch.submit import dispatch
from django_xunchen.exceptions import (
    BlockedWordsError,
    GatewayError,
    InvalidContentError,
    NotSentError,
    OutcomeUnknownError,
    XunchenError,
)
from django_xunchen.models import Message
from django_xunchen.outcomes.write import Outcome, land

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status


class Interrupted(BaseException):
    """Stands for Ctrl-C (a BaseException, as KeyboardInterrupt is) without stopping the
    test runner, which treats a real KeyboardInterrupt as the user's."""


DUMMY = "django_xunchen.backends.dummy.SMSBackend"


def queued(*numbers, **kwargs):
    rows = send_sms(
        list(numbers) or ["13800138000"], kwargs.pop("content", "x"), backend=DUMMY, **kwargs
    )
    Message.objects.update(status="queued", msgid="", submitted_at=None)
    for row in rows:
        row.status = "queued"
    return rows


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotSentError("send: cannot connect to the gateway"), "queued", ""),
        (OutcomeUnknownError("send: no answer"), "unknown", ""),
        (BlockedWordsError("110", "send", words=["赌博"]), "failed", "110"),
        (InvalidContentError("send: a field cannot be sent as GBK"), "failed", "invalid"),
    ],
)
def test_every_outcome_writes_its_status_code_text_and_signal(
    xunchen_outbox, events, error, status, code
):
    rows = queued("13800138000", "13900000000")
    locmem.fail_next(error)
    events.clear()
    outcome = dispatch(rows, LocmemBackend())
    assert outcome.errors == [error] and outcome.requests == 1 and outcome.sent == 0
    for row in Message.objects.all():
        assert (row.status, row.error_code, row.error_message) == (status, code, str(error))
        assert row.claim is None and row.msgid == ""
        assert row.attempts == 2
    assert [r.status for r in rows] == [status, status]
    failed = [kwargs for name, kwargs in events if name == "message_failed"]
    if status == "queued":
        assert failed == []
    else:
        assert [k["error"] for k in failed] == [error, error]
        assert {k["message"].pk for k in failed} == {r.pk for r in rows}


def test_a_row_that_became_invalid_while_queued_fails_without_a_request(
    xunchen_outbox, settings, events
):
    rows = queued(content="您好😀")
    settings.XUNCHEN = {**settings.XUNCHEN, "ENCODING": "gbk"}
    events.clear()
    outcome = dispatch(rows, LocmemBackend())
    assert outcome.requests == 0 and xunchen_outbox == []
    (row,) = Message.objects.all()
    assert (row.status, row.error_code) == ("failed", "invalid")
    assert "GBK" in row.error_message and str(outcome.errors[0]) == row.error_message
    ((name, kwargs),) = events
    assert name == "message_failed" and kwargs["error"] is outcome.errors[0]


class Broken(LocmemBackend):
    before_request = True

    def send(self, request):
        if not self.before_request:
            self.mark_request_started()
        raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("before_request", "status", "text"),
    [
        (True, "queued", "RuntimeError in the SMS backend before the request"),
        (False, "unknown", "RuntimeError in the SMS backend"),
    ],
)
def test_a_bug_in_a_backend_says_where_it_happened(xunchen_outbox, before_request, status, text):
    rows = queued()
    backend = Broken()
    backend.before_request = before_request
    with pytest.raises(RuntimeError):
        dispatch(rows, backend)
    (row,) = Message.objects.all()
    assert (row.status, row.error_message) == (status, text)


def test_an_interrupt_before_the_request_says_so(xunchen_outbox, monkeypatch):
    from django_xunchen.dispatch import submit as module

    def interrupted(*args, **kwargs):
        raise Interrupted

    rows = queued()
    monkeypatch.setattr(module, "_request_for", interrupted)
    with pytest.raises(Interrupted):
        dispatch(rows, LocmemBackend())
    (row,) = Message.objects.all()
    assert (row.status, row.error_message) == ("queued", "Interrupted before the request was made.")


@pytest.mark.parametrize("where", ["request", "backend"])
def test_a_code_stopped_before_its_request_fails_rather_than_waits(
    xunchen_outbox, monkeypatch, where
):
    """Its stored text has the code masked out and cannot be sent from the queue: what
    would go back to the queue fails (with what stopped it)."""
    from django_xunchen.dispatch import submit as module

    def interrupted(*args, **kwargs):
        raise Interrupted

    rows = queued()
    Message.objects.update(masked=True)
    rows[0].masked = True
    if where == "request":
        monkeypatch.setattr(module, "_request_for", interrupted)
        with pytest.raises(Interrupted):
            dispatch(rows, LocmemBackend())
        text = "Interrupted before the request was made."
    else:
        wire = {rows[0].pk: module.WireText(content="您的验证码是123456")}
        with pytest.raises(RuntimeError):
            dispatch(rows, Broken(), wire_text=wire)
        text = "RuntimeError in the SMS backend before the request"
    (row,) = Message.objects.all()
    assert (row.status, row.error_message) == ("failed", text)


def test_sent_rows_get_the_msgid_the_time_and_a_clean_slate(xunchen_outbox, events):
    rows = queued("13800138000", "13900000000")
    Message.objects.update(error_code="110", error_message="old", blocked_words=["x"])
    events.clear()
    outcome = dispatch(rows, LocmemBackend())
    assert (outcome.sent, outcome.requests) == (2, 1)
    for row in Message.objects.all():
        assert (row.status, row.msgid) == ("sent", xunchen_outbox[0].msgid)
        assert (row.error_code, row.error_message, row.blocked_words) == ("", "", [])
        assert row.submitted_at is not None and row.claim is None
    assert sorted(k["message"].pk for n, k in events if n == "message_sent") == sorted(
        r.pk for r in rows
    )


def test_rows_that_differ_in_text_template_params_extcode_or_time_go_apart(xunchen_outbox):
    import datetime as dt

    from django_xunchen.models import Template

    template = Template.objects.create(template_id="T-1", name="t", body="码@1@")
    later = timezone.now() + dt.timedelta(hours=1)
    rows = [
        *queued("13800138000", content="a"),
        *send_sms("13900000000", "b", backend=DUMMY),
        *send_sms("13700000000", template=template, params=["1"], backend=DUMMY),
        *send_sms("13600000000", template=template, params=["2"], backend=DUMMY),
        *send_sms("13500000000", "a", extcode="5", backend=DUMMY),
        *send_sms("13400000000", "a", send_at=later, backend=DUMMY),
        *send_sms("13300000000", "a", backend=DUMMY),
    ]
    Message.objects.update(status="queued", msgid="")
    for row in rows:
        row.status = "queued"
    outcome = dispatch(rows, LocmemBackend())
    assert outcome.requests == 6
    assert sorted(len(s.mobiles) for s in xunchen_outbox) == [1, 1, 1, 1, 1, 2]
    same = next(s for s in xunchen_outbox if len(s.mobiles) == 2)
    assert same.mobiles == ("13800138000", "13300000000")
    template_requests = [s.request for s in xunchen_outbox if s.request.template_id]
    assert sorted(r.params for r in template_requests) == [((1, "1"),), ((1, "2"),)]
    assert {s.request.extcode for s in xunchen_outbox} == {None, "5"}


# ------------------------------------------------------------------ rows that moved on


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
