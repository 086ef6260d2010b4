"""Admission when rows are submitted changes a send's own rows only: it suppresses and
expires the rows it claims, never a row another process sent meanwhile or a row of
another send, and tries no claim for rows that cannot go."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from django_xunchen import send_queued, send_sms
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
NIGHT = dt.datetime(2026, 11, 26, 22, 30, tzinfo=CHINA_TZ)
LOCMEM = "django_xunchen.backends.locmem.SMSBackend"
N, M = "13800138000", "13800138001"
MORNING = dt.datetime(2026, 11, 27, 8, 30, tzinfo=CHINA_TZ)


def test_marketing_whose_number_opts_out_while_it_waits_is_suppressed_alone(
    quiet_hours, settings, xunchen_outbox
):
    from django_xunchen.policy.suppression import suppress

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    with time_machine.travel(NIGHT, tick=False):
        (held,) = send_sms(N, "上新", kind="marketing")
    assert held.status == S.QUEUED
    later = MORNING + dt.timedelta(days=2)
    notice = Message.objects.create(mobile=N, content="发货", hold_until=later)
    suppress(N, source="reply")
    with time_machine.travel(MORNING, tick=False):
        send_queued()
    held.refresh_from_db()
    assert (held.status, held.error_message, held.updated_at) == (
        S.SUPPRESSED,
        "The number went on the suppression list before the message was sent.",
        MORNING,
    )
    notice.refresh_from_db()
    assert notice.status == S.QUEUED, "a notice to the same number is not the send's to touch"
    assert xunchen_outbox == []


def test_a_row_another_process_sent_meanwhile_keeps_its_status(settings, xunchen_outbox):
    """dispatch() is handed rows read a moment ago: one of them has since been sent by
    another process, after its number opted out and its expiry passed."""
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch
    from django_xunchen.policy.suppression import suppress

    past = timezone.now() - dt.timedelta(minutes=1)
    rows = [
        Message.objects.create(mobile=N, content="上新", kind="marketing"),
        Message.objects.create(mobile=M, content="上新", kind="marketing", expires_at=past),
    ]
    suppress(N, source="staff")
    Message.objects.update(status=S.SENT)
    dispatch(rows, get_backend(LOCMEM))
    assert set(Message.objects.values_list("status", flat=True)) == {S.SENT}
    assert [r.status for r in rows] == [S.SENT, S.SENT]
    assert xunchen_outbox == []


def test_a_send_expires_its_own_rows_and_no_others(settings, xunchen_outbox):
    from django_xunchen.backends import get_backend
    from django_xunchen.dispatch.submit import dispatch

    now = dt.datetime(2026, 11, 26, 10, 0, tzinfo=CHINA_TZ)
    with time_machine.travel(now - dt.timedelta(hours=1), tick=False):
        mine = Message.objects.create(mobile=N, content="您好", expires_at=now)
        theirs = Message.objects.create(mobile=M, content="您好", expires_at=now)
    with time_machine.travel(now, tick=False):
        dispatch([mine], get_backend(LOCMEM))
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, mine.updated_at) == (S.EXPIRED, now)
    assert theirs.status == S.QUEUED
    assert xunchen_outbox == []


def test_a_send_leaves_its_held_and_suppressed_rows_alone(quiet_hours, settings, xunchen_outbox):
    """No claim is tried for rows that cannot go: a held send makes no UPDATE of the
    message table, and a send with a suppressed number makes the claim and the outcome
    of the others only."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_xunchen.policy.suppression import suppress

    settings.XUNCHEN = {**settings.XUNCHEN, "BACKEND": LOCMEM}
    update = f'UPDATE "{Message._meta.db_table}"'

    def updates(queries):
        return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(update)]

    with time_machine.travel(NIGHT, tick=False), CaptureQueriesContext(connection) as night:
        held = send_sms([N, M], "上新", kind="marketing")
    assert [r.status for r in held] == [S.QUEUED, S.QUEUED]
    assert updates(night) == []

    suppress(N, source="staff")
    with time_machine.travel(MORNING, tick=False), CaptureQueriesContext(connection) as day:
        off, on = send_sms([N, M], "再上新", kind="marketing")
    assert (off.status, on.status) == (S.SUPPRESSED, S.SENT)
    assert len(updates(day)) == 2, updates(day)
