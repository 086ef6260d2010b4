"""Dispatch at its edges: a request the account refused fails its rows with the
gateway's own error (its code, its text, the very exception for the signal); a row held
until later waits even when it has long been idle; rows created at the same moment go in
the order they were written."""

import datetime as dt

import pytest
import time_machine

from django_xunchen import send_queued, send_sms
from django_xunchen.backends import locmem
from django_xunchen.exceptions import (
    AccessMethodNotEnabledError,
    AccountDisabledError,
    InsufficientBalanceError,
)
from django_xunchen.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
S = Message.Status
T0 = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "error",
    [
        AccountDisabledError("102", "send"),
        InsufficientBalanceError("108", "send"),
        AccessMethodNotEnabledError("118", "send", message="the account may not send by HTTP"),
    ],
    ids=["disabled", "no balance", "no http"],
)
def test_a_request_the_account_refused_fails_its_rows_with_the_gateway_s_own_error(
    xunchen_outbox, events, error
):
    locmem.fail_next(error)
    rows = send_sms(["13800138000", "13900139000"], "您的订单已发货", fail_silently=True)
    assert {(r.status, r.error_code, r.error_message) for r in rows} == {
        (S.FAILED, error.code, str(error))
    }
    stored = Message.objects.values_list("status", "error_code", "error_message", "blocked_words")
    assert list(stored) == [(S.FAILED, error.code, str(error), [])] * 2
    failed = [kwargs for name, kwargs in events if name == "message_failed"]
    assert len(failed) == 2 and all(kwargs["error"] is error for kwargs in failed)


def test_a_row_held_until_later_waits_even_when_it_has_long_been_idle(xunchen_outbox):
    with time_machine.travel(T0, tick=False):
        row = Message.objects.create(
            mobile="13800138000", content="x", hold_until=T0 + dt.timedelta(hours=1)
        )
    with time_machine.travel(T0 + dt.timedelta(minutes=30), tick=False):
        assert send_queued(idle_for=60)["claimed"] == 0
    assert xunchen_outbox == []
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert send_queued(idle_for=60)["sent"] == 1
    row.refresh_from_db()
    assert row.status == S.SENT


def test_rows_created_at_the_same_moment_go_in_the_order_they_were_written(xunchen_outbox):
    mobiles = ["13800138000", "13800138001", "13800138002"]
    with time_machine.travel(T0, tick=False):
        rows = [Message.objects.create(mobile=m, content="x") for m in mobiles]
    # Rewritten since: on PostgreSQL its newest version now lies last in the table.
    Message.objects.filter(pk=rows[0].pk).update(content="x")
    for _ in mobiles:
        assert send_queued(limit=1)["sent"] == 1
    assert [s.mobiles for s in xunchen_outbox] == [(m,) for m in mobiles]
