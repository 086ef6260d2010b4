"""The edges of recovering a lost request's msgid from its delivery reports
(django_xunchen.outcomes.recovery): which rows count as lost, the time window around a
request, the reports that cannot tell, and what is counted and logged. Called directly
with ``(msgid, mobile, reported_at)`` reports, on rows made as a lost send leaves them."""

import datetime as dt
import logging
import uuid

import pytest
import time_machine

from django_xunchen.client.types import CHINA_TZ
from django_xunchen.models import Message
from django_xunchen.outcomes.recovery import Recovered, recover

pytestmark = pytest.mark.django_db
S = Message.Status
T0 = dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=CHINA_TZ)
A, B, C = "13800138000", "13900000000", "13700000000"
LATER = T0 + dt.timedelta(hours=1)  # long past the stale margin of every row made at T0


def request_rows(numbers, requested_at=T0, *, status=S.UNKNOWN, msgid="", **fields):
    """The rows of one request claimed at ``requested_at``, as its send left them."""
    request = fields.pop("request", uuid.uuid4())
    with time_machine.travel(requested_at, tick=False):
        for number in numbers:
            Message.objects.create(
                mobile=number,
                content="lost",
                status=status,
                msgid=msgid,
                request=request,
                requested_at=requested_at,
                **fields,
            )
    return request


def recovered(reports, now=LATER, names=("default",)):
    with time_machine.travel(now, tick=False):
        return recover(reports, list(names), now)


def rows_of(request):
    return sorted(Message.objects.filter(request=request).values_list("mobile", "status", "msgid"))


def report(msgid, mobile, seconds=10):
    return (msgid, mobile, T0 + dt.timedelta(seconds=seconds))


def test_recovered_counts_add_up():
    done = Recovered(requests=1, messages=2, ambiguous=3, msgids={"m-1"})
    done.add(Recovered(requests=10, messages=20, ambiguous=30, msgids={"m-2"}))
    done.add(Recovered())
    assert (done.requests, done.messages, done.ambiguous, done.msgids) == (
        11,
        22,
        33,
        {"m-1", "m-2"},
    )


def test_every_request_recovered_in_one_call_is_counted():
    first = request_rows([A, B])
    second = request_rows([C], T0 + dt.timedelta(seconds=1))
    done = recovered([report("m-1", A), report("m-1", B), report("m-2", C)])
    assert (done.requests, done.messages, done.ambiguous, done.msgids) == (
        2,
        3,
        0,
        {"m-1", "m-2"},
    )
    assert rows_of(first) == [(A, S.SENT, "m-1"), (B, S.SENT, "m-1")]
    assert rows_of(second) == [(C, S.SENT, "m-2")]


DECOYS = {
    # Refused by the gateway: its outcome is known.
    "failed": {"status": S.FAILED},
    # Put back in the queue after a refusal worth retrying.
    "queued": {"status": S.QUEUED},
    # Its outcome is lost, but it has a msgid of its own.
    "unknown with a msgid": {"msgid": "m-own"},
    # Sent from another gateway account.
    "another account": {"account": "codes"},
    # Still sending, within the stale margin: its process may still land the outcome.
    "sending, not yet stale": {"status": S.SENDING, "at": LATER - dt.timedelta(seconds=10)},
}


@pytest.mark.parametrize("decoy", DECOYS)
@pytest.mark.parametrize("beside_a_lost_one", [True, False])
def test_only_a_lost_request_of_the_account_is_a_candidate(decoy, beside_a_lost_one):
    fields = dict(DECOYS[decoy])
    updated = fields.pop("at", T0)
    lost = request_rows([A]) if beside_a_lost_one else None
    other = request_rows([A], T0 + dt.timedelta(seconds=1), **fields)
    Message.objects.filter(request=other).update(updated_at=updated)
    before = rows_of(other)
    done = recovered([report("m-1", A)])
    assert rows_of(other) == before
    if beside_a_lost_one:  # the decoy makes no ambiguity: the lost request takes the msgid
        assert (done.requests, done.messages, done.ambiguous) == (1, 1, 0)
        assert rows_of(lost) == [(A, S.SENT, "m-1")]
    else:
        assert (done.requests, done.messages, done.ambiguous, done.msgids) == (0, 0, 0, set())


def test_a_lost_row_without_a_request_is_never_taken():
    """A row sent before requests were recorded: nothing proves which reports are its."""
    lost = request_rows([A])
    with time_machine.travel(T0, tick=False):
        alone = Message.objects.create(
            mobile=A, content="old", status=S.UNKNOWN, request=None, requested_at=T0
        )
    done = recovered([report("m-1", A)])
    assert (done.requests, done.messages, done.ambiguous) == (1, 1, 0)
    assert rows_of(lost) == [(A, S.SENT, "m-1")]
    alone.refresh_from_db()
    assert (alone.status, alone.msgid) == (S.UNKNOWN, "")


def test_a_lost_row_without_a_request_alone_is_not_taken():
    with time_machine.travel(T0, tick=False):
        alone = Message.objects.create(
            mobile=A, content="old", status=S.UNKNOWN, request=None, requested_at=T0
        )
    done = recovered([report("m-1", A)])
    assert (done.requests, done.messages, done.ambiguous) == (0, 0, 0)
    alone.refresh_from_db()
    assert (alone.status, alone.msgid) == (S.UNKNOWN, "")


@pytest.mark.parametrize(
    "fields",
    [{"msgid": "m-own"}, {"status": S.SENDING}],
    ids=["with a msgid of its own", "still sending within the margin"],
)
def test_a_row_of_the_recovered_request_that_is_not_lost_keeps_what_it_has(fields):
    request = request_rows([A])
    request_rows([B], **fields, request=request)
    Message.objects.filter(mobile=B).update(updated_at=LATER - dt.timedelta(seconds=10))
    before = rows_of(request)[1]
    done = recovered([report("m-1", A)])
    assert (done.requests, done.messages) == (1, 1)
    assert rows_of(request) == [(A, S.SENT, "m-1"), before]


@pytest.mark.parametrize(
    ("requested", "taken"),
    [
        (T0, True),  # exactly the window before the report
        (T0 + dt.timedelta(microseconds=1), True),
        (T0 - dt.timedelta(microseconds=1), False),  # just outside it
        (T0 - dt.timedelta(seconds=1), False),
    ],
)
def test_the_match_window_holds_a_request_claimed_exactly_that_long_before(
    settings, requested, taken
):
    settings.XUNCHEN = {**settings.XUNCHEN, "MATCH_WINDOW_DAYS": 2}
    request = request_rows([A], requested)
    two_days = 2 * 24 * 3600
    done = recovered([report("m-1", A, two_days)], now=T0 + dt.timedelta(seconds=two_days + 60))
    assert done.requests == int(taken)
    assert rows_of(request) == [(A, S.SENT, "m-1") if taken else (A, S.UNKNOWN, "")]


def test_a_report_without_a_time_counts_from_the_given_now():
    """``now`` is when the reports were received, not when recovery runs."""
    request = request_rows([A])
    much_later = T0 + dt.timedelta(days=30)
    with time_machine.travel(much_later, tick=False):
        done = recover([("m-1", A, None)], ["default"], T0 + dt.timedelta(seconds=30))
    assert done.requests == 1
    assert rows_of(request) == [(A, S.SENT, "m-1")]


def test_without_a_now_the_clock_is_now():
    request = request_rows([A])
    with time_machine.travel(LATER, tick=False):
        done = recover([("m-1", A, None)], ["default"])
    assert done.requests == 1
    assert rows_of(request) == [(A, S.SENT, "m-1")]


def test_a_report_without_a_msgid_recovers_nothing():
    request = request_rows([A])
    done = recovered([("", A, T0 + dt.timedelta(seconds=10))])
    assert (done.requests, done.messages, done.ambiguous) == (0, 0, 0)
    assert rows_of(request) == [(A, S.UNKNOWN, "")]


def test_a_report_without_a_mobile_does_not_veto_the_others_of_its_msgid():
    request = request_rows([A])
    done = recovered([report("m-1", A), ("m-1", "", T0 + dt.timedelta(seconds=10))])
    assert done.requests == 1
    assert rows_of(request) == [(A, S.SENT, "m-1")]


def messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "django_xunchen.polling"]


def test_each_ambiguous_msgid_is_counted_and_named(caplog):
    for seconds in (0, 5):  # two lost requests to each of two numbers
        request_rows([A, B], T0 + dt.timedelta(seconds=seconds))
    with caplog.at_level(logging.WARNING, "django_xunchen.polling"):
        done = recovered([report("m-1", A), report("m-2", B), report("m-2", B, 11)])
    assert (done.requests, done.ambiguous) == (0, 3)
    assert messages(caplog) == [
        f"delivery reports with msgid 'm-1' ({A}) could belong to any of 2 requests whose "
        "outcome was lost: left unmatched",
        f"delivery reports with msgid 'm-2' ({B}) could belong to any of 2 requests whose "
        "outcome was lost: left unmatched",
    ]
    assert set(Message.objects.values_list("status", "msgid")) == {(S.UNKNOWN, "")}


def test_a_request_two_msgids_point_to_is_named_and_the_next_request_still_recovers(caplog):
    shared = request_rows([A])
    alone = request_rows([C], T0 + dt.timedelta(seconds=1))
    with caplog.at_level(logging.WARNING, "django_xunchen.polling"):
        done = recovered([report("m-1", A), report("m-2", A), report("m-3", C)])
    assert (done.requests, done.messages, done.ambiguous, done.msgids) == (1, 1, 2, {"m-3"})
    assert rows_of(shared) == [(A, S.UNKNOWN, "")]
    assert rows_of(alone) == [(C, S.SENT, "m-3")]
    assert messages(caplog)[:2] == [
        f"delivery reports with msgid '{msgid}' ({A}) and 1 other msgids all point to "
        f"request {shared}, whose outcome was lost: left unmatched"
        for msgid in ("m-1", "m-2")
    ]
