"""The edges of the suppression list (django_xunchen.policy.suppression): what suppress()
writes when it adds or widens an entry and what its signals carry, the second a reply
counts from in the consent ledger, and what suppress_many() counts, writes, announces
and reads back when a file repeats numbers, meets entries already there, or races
another writer."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_xunchen import signals
from django_xunchen.client.types import CHINA_TZ
from django_xunchen.consent import ledger
from django_xunchen.models import (
    Consent,
    EventType,
    InboundMessage,
    Suppression,
    WebhookEndpoint,
    WebhookEvent,
)
from django_xunchen.policy import suppression
from django_xunchen.policy.suppression import (
    Suppressed,
    reply_time,
    suppress,
    suppress_many,
    unsuppress,
)

pytestmark = pytest.mark.django_db(transaction=True)
Scope, Source = Suppression.Scope, Suppression.Source
N, M, P, Q = "13800138000", "13800138001", "13800138002", "13800138003"
T0 = dt.datetime(2026, 11, 20, 9, 0, 0, tzinfo=CHINA_TZ)
LONG = "因" * 150 + "果" * 100  # 250 characters: a cause keeps its first 200


@pytest.fixture
def received():
    """Every opted_out and opted_in sent, as (signal, kwargs without ``signal``)."""
    got = []

    def out(sender, **kwargs):
        kwargs.pop("signal")
        got.append(("opted_out", kwargs))

    def back(sender, **kwargs):
        kwargs.pop("signal")
        got.append(("opted_in", kwargs))

    signals.opted_out.connect(out, sender=Suppression)
    signals.opted_in.connect(back, sender=Suppression)
    yield got
    signals.opted_out.disconnect(out, sender=Suppression)
    signals.opted_in.disconnect(back, sender=Suppression)


def a_reply(content="退订", mobile=N, at=T0 + dt.timedelta(microseconds=250_000)):
    return InboundMessage.objects.create(
        mobile=mobile, recvcode="10690001", content=content, received_at=at
    )


def entry(mobile=N):
    return Suppression.objects.values("scope", "source", "cause").get(mobile=mobile)


def on_the_list(mobile, scope, source=Source.REPLY, cause="TD", **fields):
    return Suppression.objects.create(
        mobile=mobile, scope=scope, source=source, cause=cause, **fields
    )


# ------------------------------------------------------------------------- suppress()


def test_without_a_cause_the_entry_and_the_withdrawal_have_none():
    suppress(N, source=Source.STAFF)
    suppress_many([M], source=Source.IMPORT)
    assert entry(N)["cause"] == entry(M)["cause"] == ""
    assert Consent.objects.get(mobile=N).note == ""


def test_a_wider_scope_takes_over_the_entry_with_its_source_and_cause(received):
    on_the_list(N, Scope.MARKETING)
    returned = suppress(N, source=Source.STAFF, scope=Scope.ALL, cause="asked by phone")
    expected = {"scope": "all", "source": "staff", "cause": "asked by phone"}
    assert entry(N) == expected
    assert (returned.scope, returned.source, returned.cause) == tuple(expected.values())
    assert received == [("opted_out", {"mobile": N, "suppression": returned, "reply": None})]


@pytest.mark.parametrize(
    ("there", "scope", "signalled"),
    [
        (None, Scope.MARKETING, True),  # added
        (Scope.MARKETING, Scope.MARKETING, True),  # asked again: said again
        (Scope.MARKETING, Scope.ALL, True),  # widened
        (Scope.ALL, Scope.MARKETING, False),  # already off more than that: nothing new
    ],
)
def test_opted_out_carries_the_number_the_entry_and_the_reply(received, there, scope, signalled):
    if there:
        on_the_list(N, there)
    reply = a_reply()
    returned = suppress(N, source=Source.REPLY, scope=scope, cause="退订", reply=reply)
    assert returned == Suppression.objects.get(mobile=N)
    expected = [("opted_out", {"mobile": N, "suppression": returned, "reply": reply})]
    assert received == (expected if signalled else [])


def test_opted_in_carries_the_reply():
    got = []

    def back(sender, **kwargs):
        got.append((kwargs["mobile"], kwargs["reply"]))

    signals.opted_in.connect(back)
    try:
        on_the_list(N, Scope.MARKETING)
        reply = a_reply("订阅")
        assert unsuppress(N, reply=reply) is True
        assert unsuppress(N, reply=reply) is False
    finally:
        signals.opted_in.disconnect(back)
    assert got == [(N, reply)]


@pytest.mark.parametrize("how", ["added", "widened"])
def test_the_cause_keeps_its_first_200_characters(how):
    if how == "widened":
        on_the_list(N, Scope.MARKETING)
    returned = suppress(N, source=Source.STAFF, scope=Scope.ALL, cause=LONG)
    assert returned.cause == entry(N)["cause"] == LONG[:200]


@pytest.mark.parametrize("how", ["added", "widened"])
def test_an_import_s_cause_keeps_its_first_200_characters(how):
    if how == "widened":
        on_the_list(N, Scope.MARKETING)
    suppress_many([N], source=Source.IMPORT, scope=Scope.ALL, cause=LONG)
    assert entry(N)["cause"] == LONG[:200]


# ------------------------------------------------------------------------- reply_time()


def test_a_reply_counts_from_the_start_of_its_second_or_to_its_end():
    reply = a_reply(at=T0 + dt.timedelta(microseconds=250_000))
    assert reply_time(reply) == T0
    assert reply_time(reply, end=False) == T0
    assert reply_time(reply, end=True) == T0 + dt.timedelta(microseconds=999_999)
    reply.received_at = None
    assert reply_time(reply) is None
    assert reply_time(reply, end=True) is None


def test_an_opt_out_by_reply_is_withdrawn_at_the_end_of_the_reply_s_second():
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        suppress(N, source=Source.REPLY, cause="退订", reply=a_reply())
    withdrawal = Consent.objects.get(mobile=N)
    assert (withdrawal.granted, withdrawal.at) == (False, T0 + dt.timedelta(microseconds=999_999))


# ------------------------------------------------------------------------ suppress_many()


def test_an_import_writes_its_numbers_as_it_reads_them(monkeypatch):
    """A file is never held whole: each batch is written before the next is read."""
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    seen = []

    def numbers():
        yield from [N, M]
        seen.append(Suppression.objects.count())
        yield P

    assert suppress_many(numbers(), source=Source.IMPORT) == Suppressed(added=3)
    assert seen == [2]


def test_an_import_withdraws_consent_with_its_cause_as_the_note():
    ledger.record(N, True, source=Consent.Source.STAFF)
    suppress_many([N, M], source=Source.IMPORT, cause="complaints, December")
    withdrawal = Consent.objects.get(mobile=N, granted=False)
    assert withdrawal.note == "complaints, December"


def test_entries_already_there_are_each_counted(received):
    earlier = timezone.now() - dt.timedelta(days=1)
    on_the_list(N, Scope.MARKETING, created_at=earlier)
    on_the_list(M, Scope.MARKETING, created_at=earlier)
    on_the_list(P, Scope.ALL, created_at=earlier + dt.timedelta(hours=1))  # the newest
    done = suppress_many([N, M, P, Q], source=Source.IMPORT)
    assert done == Suppressed(added=1, widened=0, already=3)
    assert sorted(kw["mobile"] for _, kw in received) == [N, M, Q], "P is off more already"
    received.clear()
    done = suppress_many([N, M, P, Q], source=Source.IMPORT, scope=Scope.ALL, cause="all")
    assert done == Suppressed(added=0, widened=3, already=1)
    assert dict(Suppression.objects.values_list("mobile", "scope")) == dict.fromkeys(
        [N, M, P, Q], "all"
    )
    assert sorted(kw["mobile"] for _, kw in received) == [N, M, P, Q]


def test_a_widened_entry_takes_the_import_s_source_and_cause():
    on_the_list(N, Scope.MARKETING)
    suppress_many([N], source=Source.IMPORT, scope=Scope.ALL, cause="from the CRM")
    assert entry(N) == {"scope": "all", "source": "import", "cause": "from the CRM"}


@pytest.mark.parametrize(
    "numbers",
    [[M, Q, M, N], [N, Q, N]],
    ids=["added, then again beside an entry to widen", "widened, then again"],
)
def test_a_number_twice_in_the_file_counts_once(monkeypatch, received, numbers):
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    on_the_list(N, Scope.MARKETING, created_at=timezone.now() - dt.timedelta(days=1))
    done = suppress_many(numbers, source=Source.IMPORT, scope=Scope.ALL)
    added = len(set(numbers) - {N})
    assert done == Suppressed(added=added, widened=1, already=0)
    assert entry(N)["scope"] == "all"
    assert sorted(kw["mobile"] for _, kw in received) == sorted(set(numbers))


@pytest.mark.parametrize("numbers", [[N], [N, N, N, M]], ids=["one", "three times"])
def test_opted_out_comes_once_for_each_number_of_an_import(monkeypatch, received, numbers):
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    suppress_many(numbers, source=Source.IMPORT)
    assert sorted(kw["mobile"] for _, kw in received) == sorted(set(numbers))
    assert all(kw["reply"] is None for _, kw in received)
    assert all(kw["suppression"].mobile == kw["mobile"] for _, kw in received)


@pytest.fixture
def subscribed():
    WebhookEndpoint.objects.create(
        name="crm",
        url="https://crm.example.com/hook",
        events=[EventType.SUPPRESSION_ADDED],
        secret="whsec_x" * 5,
    )


def announced():
    return sorted(
        WebhookEvent.objects.filter(type=EventType.SUPPRESSION_ADDED).values_list(
            "object_id", flat=True
        )
    )


def pks(*mobiles):
    return sorted(Suppression.objects.filter(mobile__in=mobiles).values_list("pk", flat=True))


def test_an_import_announces_what_it_added_and_widened(subscribed):
    on_the_list(N, Scope.MARKETING)
    on_the_list(M, Scope.ALL)
    suppress_many([N, M, P, Q], source=Source.IMPORT, scope=Scope.ALL)
    assert announced() == pks(N, P, Q)


@pytest.mark.parametrize(
    "meanwhile",
    [
        {"source": Source.REPLY, "cause": "TD"},  # a reply, at the same instant
        {"source": Source.IMPORT, "cause": "another import", "created_at": T0},
    ],
    ids=["a reply", "another import"],
)
def test_a_number_another_writer_put_on_the_list_meanwhile_stays_as_it_is(
    monkeypatch, subscribed, meanwhile
):
    """Between the import's look at the list and its write, another transaction adds
    one of its numbers: the write skips it, and the import does not announce it."""
    insert = suppression._insert

    def racing(numbers, **values):
        on_the_list(P, Scope.MARKETING, **meanwhile)
        insert(numbers, **values)

    monkeypatch.setattr(suppression, "_insert", racing)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        suppress_many([N, P], source=Source.IMPORT, scope=Scope.ALL, cause="import")
    assert entry(P) == {"scope": "marketing", **{k: meanwhile[k] for k in ("source", "cause")}}
    assert entry(N) == {"scope": "all", "source": "import", "cause": "import"}
    assert announced() == pks(N)


def test_a_database_that_cannot_skip_a_conflicting_insert_writes_a_row_at_a_time(
    monkeypatch, subscribed
):
    """Oracle has no INSERT that skips a conflict: each number is inserted on its own,
    and one another transaction put on the list meanwhile stays as it is."""
    monkeypatch.setattr(connection.features, "supports_ignore_conflicts", False)
    insert = suppression._insert

    def racing(numbers, **values):
        on_the_list(P, Scope.MARKETING, source=Source.REPLY, cause="TD")
        insert(numbers, **values)

    monkeypatch.setattr(suppression, "_insert", racing)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        suppress_many([N, P, Q], source=Source.IMPORT, scope=Scope.ALL, cause="import")
    assert entry(P) == {"scope": "marketing", "source": "reply", "cause": "TD"}
    assert entry(N) == entry(Q) == {"scope": "all", "source": "import", "cause": "import"}
    assert announced() == pks(N, Q)


@pytest.mark.postgres_only
def test_an_import_of_many_numbers_is_written_and_announced(subscribed):
    """More numbers than PostgreSQL takes as a list of parameters (an array instead)."""
    numbers = [f"138{n:08d}" for n in range(30)]
    on_the_list(numbers[0], Scope.MARKETING)
    done = suppress_many(numbers, source=Source.IMPORT, scope=Scope.ALL)
    assert done == Suppressed(added=29, widened=1, already=0)
    assert announced() == pks(*numbers)


def suppression_reads(queries):
    table = connection.ops.quote_name(Suppression._meta.db_table)
    return [q for q in queries if q["sql"].startswith("SELECT") and table in q["sql"]]


def test_an_import_nobody_listens_to_reads_nothing_back(monkeypatch):
    """No endpoint wants the event and no receiver opted_out: one look at the list a
    batch, nothing more."""
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        suppress_many([N, M, P], source=Source.IMPORT)
    assert Suppression.objects.count() == 3
    assert len(suppression_reads(queries.captured_queries)) == 2


def test_opted_out_reads_the_entries_back_a_batch_at_a_time(monkeypatch, received):
    monkeypatch.setattr(suppression, "BULK_BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        suppress_many([N, M, P], source=Source.IMPORT)
    assert sorted(kw["mobile"] for _, kw in received) == [N, M, P]
    assert len(suppression_reads(queries.captured_queries)) == 2 + 2


def test_an_import_writes_its_new_numbers_in_one_statement_a_batch(monkeypatch):
    """A database that can skip a conflicting insert (all but Oracle) gets one statement
    run for every new number of a batch, not a savepoint and an insert each."""
    monkeypatch.setattr(suppression, "BULK_BATCH", 3)
    table = connection.ops.quote_name(Suppression._meta.db_table)
    with CaptureQueriesContext(connection) as queries:
        suppress_many([N, M, P, Q], source=Source.IMPORT)
    assert Suppression.objects.count() == 4
    writes = [
        q["sql"] for q in queries.captured_queries if "INSERT" in q["sql"] and table in q["sql"]
    ]
    assert len(writes) == 2 and all("times: INSERT" in sql for sql in writes), writes
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]


def test_the_entries_read_are_those_of_the_numbers_asked_about():
    """Another number on the list is not in the answer: a caller that asks whether any of
    its numbers is suppressed (a fallback) must not be stopped by someone else's."""
    suppress("13800138000", source=Suppression.Source.STAFF, scope=Suppression.Scope.ALL)
    suppress("13900139000", source=Suppression.Source.STAFF)
    assert suppression.suppressed(["13700137000"], "marketing") == {}
    found = suppression.suppressed(["13700137000", "13900139000"], "marketing")
    assert list(found) == ["13900139000"]
    assert found["13900139000"].scope == Suppression.Scope.MARKETING
    assert list(suppression.suppressed(["13800138000", "13900139000"], "notification")) == [
        "13800138000"
    ]


def test_the_entries_of_many_numbers_are_read_at_once():
    """A send's thousands of numbers (on PostgreSQL, one array parameter)."""
    numbers = [f"137{i:08d}" for i in range(2_000)]
    suppress(numbers[1_234], source=Suppression.Source.STAFF)
    with CaptureQueriesContext(connection) as queries:
        found = suppression.suppressed(numbers, "marketing")
    assert list(found) == [numbers[1_234]] and len(queries) == 1
