"""No plain code anywhere: not in the database, the logs or the admin. The hand-off of a
code to the backend: the plain text is an argument of the dispatch that sends it, never
an attribute of the row that signals and receivers see."""

import dataclasses
import logging

import pytest
from django.core import serializers
from django.db import transaction
from django.urls import reverse

from django_xunchen import signals as module
from django_xunchen.backends import locmem
from django_xunchen.backends.locmem import SMSBackend as LocmemBackend
from django_xunchen.dispatch.submit import WireText, dispatch
from django_xunchen.exceptions import NotSentError
from django_xunchen.models import Message, Template, VerificationCode
from django_xunchen.testing import last_code
from django_xunchen.verification import codes
from django_xunchen.verification.codes import (
    CheckStatus,
    RequestStatus,
    check_code,
    request_code,
)

pytestmark = pytest.mark.django_db(transaction=True)
NUMBER = "13800138000"
CODE = "73915286"


@pytest.fixture
def fixed_code(monkeypatch, settings):
    """Every code is CODE, so that a test can look for it anywhere."""
    from django_xunchen.verification import codes

    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: CODE)

    def configure(**verification_settings):
        conf = {"CODE_LENGTH": 8, "COOLDOWN": 0, **verification_settings}
        settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": conf}

    configure()
    return configure


@pytest.fixture
def received():
    """The rows handed to receivers of code_requested, message_sent and message_failed,
    each checked for the plain code at the moment the receiver gets it."""
    rows = []
    names = ["code_requested", "message_sent", "message_failed"]
    handlers = []
    for name in names:

        def handler(sender, message, **kwargs):
            rows.append((message, leaks(message)))  # a receiver's own error is only logged

        getattr(module, name).connect(handler, weak=False)
        handlers.append((name, handler))
    yield rows
    for name, handler in handlers:
        getattr(module, name).disconnect(handler)


def reachable(obj, depth=4, seen=None):
    """Every value reachable from ``obj`` through attributes, dataclass fields, dicts and
    sequences, a few levels deep (what a receiver could read off it)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth < 0:
        return
    seen.add(id(obj))
    yield obj
    if isinstance(obj, (str, bytes, int, float, bool, type(None))):
        return
    if isinstance(obj, dict):
        children = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        children = list(obj)
    elif dataclasses.is_dataclass(obj):
        children = [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    else:
        children = list(getattr(obj, "__dict__", {}).values())
    for child in children:
        yield from reachable(child, depth - 1, seen)


def leaks(row):
    """What on ``row`` holds the plain code or the wire text."""
    return [
        repr(type(value))
        for value in reachable(row)
        if isinstance(value, WireText) or (isinstance(value, str) and CODE in value)
    ]


def assert_no_plain_code(row, leaked=None):
    assert leaks(row) == [], f"{row!r} carries the plain code"
    assert not leaked, f"{row!r} carried the plain code when a receiver got it: {leaked}"


def test_the_rows_receivers_get_carry_no_plain_code(fixed_code, received, xunchen_outbox):
    result = request_code(NUMBER)
    assert result.status == RequestStatus.SENT
    assert CODE in xunchen_outbox[0].request.content, "the SMS itself has the code"
    assert len(received) == 2, "message_sent and code_requested"
    for row, leaked in received:
        assert row.pk == result.message.pk
        assert_no_plain_code(row, leaked)
    assert_no_plain_code(result.message)


def test_the_row_of_a_code_sent_on_commit_carries_no_plain_code(gateway, fixed_code, received):
    """The dispatch waits for the commit (a backend that reaches handsets): the wire text
    waits in the on-commit callback, not on the row that code_requested gets at once."""
    with transaction.atomic():
        result = request_code(NUMBER)
        assert result.message.status == Message.Status.QUEUED and not gateway.submissions
        ((row, leaked),) = received
        assert_no_plain_code(row, leaked)
    (submission,) = gateway.submissions
    assert CODE in submission.text
    assert Message.objects.get().status == Message.Status.SENT
    assert len(received) == 2, "code_requested, then message_sent"
    for row, leaked in received:
        assert_no_plain_code(row, leaked)
    assert_no_plain_code(result.message)


def test_the_receivers_of_a_refused_code_get_a_row_without_it(fixed_code, received):
    from django_xunchen.backends import locmem

    locmem.fail_next(NotSentError("connection refused"))
    assert request_code(NUMBER).status == RequestStatus.FAILED
    ((row, leaked),) = received
    assert row.status == Message.Status.FAILED
    assert_no_plain_code(row, leaked)


@pytest.mark.parametrize("template", [False, True], ids=["text", "template"])
def test_the_plain_text_goes_to_the_backend_as_an_argument(
    fixed_code, xunchen_outbox, monkeypatch, template
):
    if template:
        Template.objects.create(template_id="CODE-1", name="code", body="验证码@1@，@2@分钟内有效")
        fixed_code(TEMPLATE="CODE-1")
    calls = []
    real = codes.dispatch

    def spy(rows, backends, **kwargs):
        calls.append((list(rows), kwargs))
        return real(rows, backends, **kwargs)

    monkeypatch.setattr(codes, "dispatch", spy)
    result = request_code(NUMBER)
    (([row], kwargs),) = calls
    assert row is result.message and row.masked
    (wire,) = kwargs["wire_text"].values()
    assert list(kwargs["wire_text"]) == [row.pk]
    (sent,) = xunchen_outbox
    if template:
        assert wire == WireText(params={"1": CODE, "2": "5"})
        assert dict(sent.request.params) == {1: CODE, 2: "5"}
        assert CODE not in str(row.params)
    else:
        assert wire.content is not None and CODE in wire.content and wire.params is None
        assert sent.request.content == wire.content
        assert CODE not in row.content
    assert CODE not in repr(kwargs), "the wire text's repr shows no code"


def test_a_masked_row_is_sent_only_with_its_wire_text():
    masked = "验证码●●●●，5分钟内有效"
    rows = [
        Message.objects.create(mobile=m, content=masked, kind="verification", masked=True)
        for m in ("13800138000", "13900139000", "13700137000")
    ]
    wire_text = {
        rows[0].pk: WireText(content="验证码1111，5分钟内有效"),
        rows[1].pk: WireText(content="验证码2222，5分钟内有效"),
    }
    backend = LocmemBackend()
    outcome = dispatch(rows, backend, wire_text=wire_text)
    from django_xunchen.backends import locmem

    sent = {s.mobiles: s.request.content for s in locmem.outbox}
    assert sent == {
        ("13800138000",): "验证码1111，5分钟内有效",
        ("13900139000",): "验证码2222，5分钟内有效",
    }, "each row with a wire text in a request of its own, with its own text"
    assert (outcome.requests, outcome.sent) == (2, 2)
    assert [type(e).__name__ for e in outcome.errors] == ["InvalidContentError"]
    statuses = dict(Message.objects.values_list("mobile", "status"))
    assert statuses["13700137000"] == Message.Status.FAILED, "never sent from the database"
    assert all(r.content == masked for r in Message.objects.all())


def test_a_code_is_sent_in_process_even_with_background_sending_on(
    fixed_code, settings, xunchen_outbox, monkeypatch
):
    """A task's arguments are stored by the task backend (a database, Redis): a code never
    goes through one, whatever BACKGROUND says."""
    from django_xunchen import tasks

    def no_task(*args, **kwargs):
        raise AssertionError("a verification code went to a task")

    monkeypatch.setattr(tasks, "enqueue_send", no_task)
    settings.XUNCHEN = {**settings.XUNCHEN, "BACKGROUND": True}
    result = request_code(NUMBER)
    assert result.status == RequestStatus.SENT
    assert result.message.status == Message.Status.SENT
    assert CODE in xunchen_outbox[0].request.content


# ----------------------------------------------------------------------- nowhere in plain text


def test_no_plain_code_in_the_database_the_logs_or_the_admin(
    admin_client, xunchen_outbox, caplog, monkeypatch, settings
):
    from django_xunchen.verification import codes

    settings.XUNCHEN = {**settings.XUNCHEN, "VERIFICATION": {"CODE_LENGTH": 8, "COOLDOWN": 0}}
    monkeypatch.setattr(codes, "derive_code", lambda nonce, n: "73915286")
    caplog.set_level(logging.DEBUG)
    request_code(NUMBER, ip="203.0.113.7")
    request_code(NUMBER)
    assert check_code(NUMBER, "11111111").status == CheckStatus.WRONG
    locmem.deliver_all()
    from django_xunchen import poll

    poll(force=True)
    assert check_code(NUMBER, "73915286").verified
    assert last_code(NUMBER) == "73915286"
    dump = serializers.serialize("json", [*_all_rows()])
    assert "73915286" not in dump
    assert "73915286" not in "\n".join(r.getMessage() for r in caplog.records)
    pages = [
        reverse("admin:django_xunchen_verificationcode_changelist"),
        reverse(
            "admin:django_xunchen_verificationcode_change", args=[VerificationCode.objects.get().pk]
        ),
        reverse("admin:django_xunchen_message_changelist"),
        reverse("admin:django_xunchen_message_change", args=[Message.objects.first().pk]),
        reverse("admin:django_xunchen_throttleevent_changelist"),
        reverse("admin:django_xunchen_report_changelist"),
    ]
    for url in pages:
        page = admin_client.get(url)
        assert page.status_code == 200
        assert "73915286" not in page.content.decode(), url


def _all_rows():
    from django.apps import apps

    for model in apps.get_app_config("django_xunchen").get_models():
        yield from model.objects.all()
