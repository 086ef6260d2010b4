"""The database lock: one holder per name, taken over only once expired, and never
touched by a process that no longer holds it."""

import datetime as dt
import os
import socket

import pytest
from django.utils import timezone

from django_xunchen.models import PollLock
from django_xunchen.polling.locks import (
    DatabaseLock,
    LockHeld,
    LockLost,
    _pid_namespace,
    make_owner,
)

pytestmark = pytest.mark.django_db


def expire(name):
    PollLock.objects.filter(name=name).update(expires_at=timezone.now() - dt.timedelta(seconds=1))


def test_one_holder_per_name_and_names_are_independent():
    first = DatabaseLock("a", owner="one")
    assert first.acquire() and first.held
    second = DatabaseLock("a", owner="two")
    assert not second.acquire() and not second.held
    assert DatabaseLock("b", owner="two").acquire(), "another name is another lock"
    row = PollLock.objects.get(name="a")
    assert row.owner == "one"
    assert row.expires_at - row.acquired_at == dt.timedelta(seconds=600)


def test_an_expired_lock_is_taken_over_with_fresh_times():
    DatabaseLock("a", timeout=60, owner="dead").acquire()
    expire("a")
    before = timezone.now()
    taker = DatabaseLock("a", timeout=60, owner="alive")
    assert taker.acquire()
    row = PollLock.objects.get(name="a")
    assert row.owner == "alive"
    assert row.acquired_at >= before
    assert row.expires_at >= before + dt.timedelta(seconds=59)


def test_refresh_and_release_touch_only_their_own_name():
    mine = DatabaseLock("a", owner="me")
    other_name = DatabaseLock("b", owner="me")
    assert mine.acquire() and other_name.acquire()
    PollLock.objects.filter(name="a").update(owner="thief")
    with pytest.raises(LockLost, match="'a'"):
        mine.refresh()
    assert not mine.held
    other_name.refresh()
    mine.release()
    assert PollLock.objects.get(name="a").owner == "thief"
    other_name.release()
    assert not PollLock.objects.filter(name="b").exists()
    assert not other_name.held


def test_release_without_holding_deletes_nothing():
    DatabaseLock("a", owner="me").acquire()
    never = DatabaseLock("a", owner="me")
    never.release()
    assert PollLock.objects.filter(name="a").exists(), "a lock object that never acquired"


def test_holder_names_who_holds_it_or_nobody():
    lock = DatabaseLock("a", owner="me")
    assert lock.holder() is None
    lock.acquire()
    held = DatabaseLock("a", owner="other").holder()
    assert (held.name, held.owner) == ("a", "me")
    assert "held by me until" in str(held)


def test_as_a_context_manager():
    with DatabaseLock("a", owner="me") as lock:
        assert lock.held
        with pytest.raises(LockHeld) as info, DatabaseLock("a", owner="other"):
            pass
        assert info.value.owner == "me"
    assert not PollLock.objects.exists()


def test_owner_names_the_host_and_process():
    owner = make_owner()
    host, pid, namespace, token = owner.split(":")
    assert (host, pid, namespace) == (socket.gethostname(), str(os.getpid()), _pid_namespace())
    assert len(token) == 8 and make_owner() != owner
    assert DatabaseLock("a").owner.startswith(f"{socket.gethostname()}:{os.getpid()}:")


def test_a_stale_owner_releasing_never_deletes_the_new_owners_lock():
    stale = DatabaseLock("a", timeout=60, owner="stale")
    assert stale.acquire()
    expire("a")
    assert DatabaseLock("a", timeout=60, owner="new").acquire()
    stale.release()  # it never noticed it lost the lock
    assert PollLock.objects.get(name="a").owner == "new"
    assert not stale.held


def test_an_expired_lock_of_another_name_is_not_taken_over_instead():
    DatabaseLock("a", owner="holder").acquire()
    DatabaseLock("z", owner="dead").acquire()
    expire("z")
    assert not DatabaseLock("a", owner="late").acquire(), "'a' is held and not expired"
    assert dict(PollLock.objects.values_list("name", "owner")) == {"a": "holder", "z": "dead"}


def test_releasing_one_name_keeps_the_same_owner_s_other_locks():
    first, second = DatabaseLock("a", owner="me"), DatabaseLock("b", owner="me")
    assert first.acquire() and second.acquire()
    first.release()
    assert list(PollLock.objects.values_list("name", flat=True)) == ["b"]


def test_a_lost_lock_says_which_lock_and_whose():
    lock = DatabaseLock("poll", owner="host:1:abc")
    lock.acquire()
    PollLock.objects.all().delete()
    with pytest.raises(LockLost) as info:
        lock.refresh()
    assert info.value.name == "poll"
    assert str(info.value) == (
        "lock 'poll' is no longer held by host:1:abc; it expired and was taken over"
    )


def test_a_lock_released_between_the_attempt_and_the_look_still_refuses(monkeypatch):
    """The holder released it after our attempt failed: we did not get it, and say so."""
    monkeypatch.setattr(DatabaseLock, "acquire", lambda self: False)
    with pytest.raises(LockHeld) as info, DatabaseLock("a", owner="me"):
        pass
    assert (info.value.name, info.value.owner) == ("a", "another process")
    assert "lock 'a' is held by another process until" in str(info.value)


def a_dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_whose_holder_on_this_host_is_gone_is_taken_over_before_it_expires():
    gone = f"{socket.gethostname()}:{a_dead_pid()}:{_pid_namespace()}:deadbeef"
    assert DatabaseLock("poll", owner=gone).acquire()
    successor = DatabaseLock("poll")
    assert successor.acquire(), "its holder was killed, or could not release it"
    assert PollLock.objects.get(name="poll").owner == successor.owner


@pytest.mark.parametrize(
    "owner",
    [
        f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:cafe0000",  # this process
        f"another-host:1:{_pid_namespace()}:cafe0000",  # another host: cannot be seen
        f"{socket.gethostname()}:999999:4026531836000:cafe0000",  # another pid namespace
        f"{socket.gethostname()}:999999:cafe0000",  # an owner from before namespaces
        "staff-took-it-by-hand",
    ],
)
def test_a_lock_whose_holder_may_be_alive_waits_until_it_expires(owner):
    assert DatabaseLock("poll", owner=owner).acquire()
    assert not DatabaseLock("poll").acquire()
    expire("poll")
    assert DatabaseLock("poll").acquire()
