"""A database-backed lock: one row per name, taken over once it has expired.

It needs no cache and no file system shared between hosts, works the same on SQLite and
PostgreSQL, and recovers by itself when the process holding it dies (after ``timeout``).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import PollLock
from ..processes import process_alive


@dataclass
class LockHeld(Exception):
    """Another process holds the lock."""

    name: str
    owner: str
    expires_at: dt.datetime

    def __str__(self) -> str:
        return f"lock {self.name!r} is held by {self.owner} until {self.expires_at:%H:%M:%S}"


class LockLost(Exception):
    """The lock expired and another process took it over: stop before the next step."""

    def __init__(self, name: str, owner: str) -> None:
        super().__init__(
            f"lock {name!r} is no longer held by {owner}; it expired and was taken over"
        )
        self.name = name


def make_owner() -> str:
    """``host:pid:pid-namespace:nonce``: who holds a lock, and whether that process still
    runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:{uuid.uuid4().hex[:8]}"


def _pid_namespace() -> str:
    """The process-id namespace this process sees (Linux), so that two containers that
    share a host name but not their process ids never judge each other's processes."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


def holder_is_gone(owner: str) -> bool:
    """Whether ``owner`` (from :func:`make_owner`) names a process of this host, in this
    process-id namespace, that no longer runs. A holder on another host or namespace, or
    named in another form, is never presumed gone."""
    parts = owner.rsplit(":", 3)
    if len(parts) != 4:
        return False
    host, pid, namespace, _nonce = parts
    if host != socket.gethostname() or not pid.isdigit() or namespace != _pid_namespace():
        return False
    if namespace == "-":  # no way to tell the namespaces apart here
        return False
    return not process_alive(int(pid))


class DatabaseLock:
    """``with DatabaseLock("poll", timeout=600): ...`` raises :class:`LockHeld` if taken."""

    def __init__(self, name: str, timeout: float = 600, owner: str | None = None) -> None:
        self.name = name
        self.timeout = dt.timedelta(seconds=timeout)
        self.owner = owner or make_owner()
        self.held = False

    def acquire(self) -> bool:
        now = timezone.now()
        try:
            with transaction.atomic():
                PollLock.objects.create(
                    name=self.name,
                    owner=self.owner,
                    acquired_at=now,
                    expires_at=now + self.timeout,
                )
            self.held = True
        except IntegrityError:
            taken_over = PollLock.objects.filter(name=self.name, expires_at__lt=now).update(
                owner=self.owner, acquired_at=now, expires_at=now + self.timeout
            )
            if not taken_over:
                taken_over = self._take_from_the_dead(now)
            self.held = taken_over == 1
        return self.held

    def _take_from_the_dead(self, now: dt.datetime) -> int:
        """Take the lock over before it expires when its holder was a process of this
        host that is gone (killed, or stopped while the database refused the release)."""
        row = PollLock.objects.filter(name=self.name).values_list("owner", flat=True).first()
        if row is None or not holder_is_gone(row):
            return 0
        return PollLock.objects.filter(name=self.name, owner=row).update(
            owner=self.owner, acquired_at=now, expires_at=now + self.timeout
        )

    def refresh(self) -> None:
        """Push the expiry forward; call it between long steps.

        Raises :class:`LockLost` if the lock is no longer ours (it expired and another
        process took it over, or it was released): the caller must stop.
        """
        renewed = PollLock.objects.filter(name=self.name, owner=self.owner).update(
            expires_at=timezone.now() + self.timeout
        )
        if not renewed:
            self.held = False
            raise LockLost(self.name, self.owner)

    def release(self) -> None:
        if self.held:
            PollLock.objects.filter(name=self.name, owner=self.owner).delete()
            self.held = False

    def holder(self) -> LockHeld | None:
        row = PollLock.objects.filter(name=self.name).first()
        return LockHeld(self.name, row.owner, row.expires_at) if row else None

    def __enter__(self) -> DatabaseLock:
        if not self.acquire():
            held = self.holder()
            raise held or LockHeld(self.name, "another process", timezone.now())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
