"""The lock taken from a holder that is gone, at its edges: which owners are judged gone
(a host name holding a colon, another host, a pid that is no number, no pid namespace to
compare), the times a takeover writes, and a takeover that touches only the one lock it
looked at, and only while its dead holder still holds it."""

import datetime as dt
import os
import socket
import subprocess
import sys
import types

import pytest
import time_machine

from django_xunchen.models import PollLock
from django_xunchen.polling import locks
from django_xunchen.polling.locks import DatabaseLock, _pid_namespace, holder_is_gone

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def gone_owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_pid_namespace()}:deadbeef"


def test_a_gone_holder_on_a_host_whose_name_holds_colons_is_known_gone(monkeypatch, dead_pid):
    """The owner is split from the right: the host name keeps whatever it holds."""
    monkeypatch.setattr(socket, "gethostname", lambda: "rack:7:node")
    owner = f"rack:7:node:{dead_pid}:{_pid_namespace()}:deadbeef"
    assert holder_is_gone(owner)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert DatabaseLock("poll", owner="next").acquire()
    assert PollLock.objects.get().owner == "next"


@pytest.mark.parametrize(
    "owner",
    [
        "another-host:{pid}:{namespace}:cafe0000",
        "{host}:not-a-pid:{namespace}:cafe0000",
        "{host}:{pid}x:{namespace}:cafe0000",
    ],
    ids=["another host, a pid gone here", "no pid", "a pid with letters"],
)
def test_a_holder_that_cannot_be_judged_from_here_waits_for_its_expiry(owner, dead_pid):
    owner = owner.format(pid=dead_pid, host=socket.gethostname(), namespace=_pid_namespace())
    assert not holder_is_gone(owner)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert not DatabaseLock("poll", owner="next").acquire()
    assert PollLock.objects.get().owner == owner


def test_without_a_pid_namespace_no_holder_is_presumed_gone(monkeypatch, dead_pid):
    """Where /proc cannot tell the namespaces apart, a dead pid here may be a live
    process in another container of the same host name."""
    monkeypatch.setattr(locks, "_pid_namespace", lambda: "-")
    owner = f"{socket.gethostname()}:{dead_pid}:-:cafe0000"
    assert not holder_is_gone(owner)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert not DatabaseLock("poll", owner="next").acquire()


def seen_from(monkeypatch, namespace):
    """This process as Linux shows it in the pid namespace ``namespace`` (an inode
    number), or on a system without /proc (None)."""
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if path != "/proc/self/ns/pid":
            return real_stat(path, *args, **kwargs)
        if namespace is None:
            raise FileNotFoundError(path)
        return types.SimpleNamespace(st_ino=namespace)

    monkeypatch.setattr(os, "stat", stat)


def test_a_dead_pid_of_another_pid_namespace_on_this_host_name_is_not_judged(monkeypatch, dead_pid):
    """Two containers may share a host name: a pid gone in one may run in the other."""
    seen_from(monkeypatch, 4026531836)
    owner = gone_owner(dead_pid)
    assert holder_is_gone(owner), "gone, seen from its own namespace"
    seen_from(monkeypatch, 4026532001)
    assert not holder_is_gone(owner)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert not DatabaseLock("poll", owner="next").acquire()


def test_without_proc_a_holder_of_this_host_name_is_never_presumed_gone(monkeypatch, dead_pid):
    """Where /proc is missing (macOS, a sandbox), the namespace cannot be read."""
    seen_from(monkeypatch, None)
    owner = gone_owner(dead_pid)
    assert not holder_is_gone(owner)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert not DatabaseLock("poll", owner="next").acquire()


def test_a_lock_taken_from_the_dead_gets_fresh_times(dead_pid):
    with time_machine.travel(T0, tick=False):
        assert DatabaseLock("poll", timeout=3600, owner=gone_owner(dead_pid)).acquire()
    with time_machine.travel(T0 + dt.timedelta(minutes=1), tick=False):
        assert DatabaseLock("poll", timeout=120, owner="next").acquire()
    row = PollLock.objects.get()
    assert (row.owner, row.acquired_at, row.expires_at) == (
        "next",
        T0 + dt.timedelta(minutes=1),
        T0 + dt.timedelta(minutes=3),
    )


def test_taking_one_lock_from_the_dead_leaves_its_other_locks(dead_pid):
    owner = gone_owner(dead_pid)
    assert DatabaseLock("poll", owner=owner).acquire()
    assert DatabaseLock("other", owner=owner).acquire()
    successor = DatabaseLock("poll", owner="next")
    assert successor.acquire() and successor.held
    assert dict(PollLock.objects.values_list("name", "owner")) == {"poll": "next", "other": owner}


def test_a_lock_another_process_took_from_the_dead_first_is_not_taken_again(monkeypatch, dead_pid):
    """Two processes find the same dead holder; the other one's takeover lands between
    this one's look and its own: this one does not get the lock."""
    real = locks.holder_is_gone

    def quicker_in_between(owner):
        PollLock.objects.filter(name="poll").update(owner="quicker")
        return real(owner)

    assert DatabaseLock("poll", owner=gone_owner(dead_pid)).acquire()
    monkeypatch.setattr(locks, "holder_is_gone", quicker_in_between)
    late = DatabaseLock("poll", owner="late")
    assert not late.acquire() and not late.held
    assert PollLock.objects.get().owner == "quicker"
