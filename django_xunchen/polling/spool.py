"""Poll answers the database refused, kept on disk until ``poll_sms`` journals them.

The gateway hands each report and reply over once only. A poll commits the raw answer to
the journal before it parses it; when the database refuses that write (it is down,
restarting, full), the answer is written here instead: one file per answer in the
``poll`` folder of the spool, a line of JSON that says whose answer it is, then the raw
bytes, written to a temporary name, fsynced, renamed into place and the folder fsynced.
The next ``poll_sms`` on the same host journals each file before it fetches anything new,
then deletes it. Only ``poll_sms`` applies these files: they need the poll lock of their
gateway account.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from ..outcomes import spool

SUBFOLDER = "poll"
SUFFIX = ".answer"
OPERATIONS = ("queryReport", "queryMo")
_FIELDS = {"account", "operation", "fetched_at", "complete", "length", "host", "pid"}


@dataclass(frozen=True)
class KeptAnswer:
    """A raw answer waiting in the poll folder."""

    path: Path
    account: str
    operation: str
    fetched_at: dt.datetime
    complete: bool
    body: bytes


def folder() -> Path:
    return spool.spool_dir() / SUBFOLDER


def keep(
    account: str, operation: str, body: bytes, fetched_at: dt.datetime, complete: bool
) -> Path:
    """Write an answer to the poll folder durably; its path. Raises :class:`OSError` (or
    :class:`~django.core.exceptions.ImproperlyConfigured` when no spool is set)."""
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    if timezone.is_naive(fetched_at):  # USE_TZ = False: the site's own zone
        fetched_at = timezone.make_aware(fetched_at, timezone.get_default_timezone())
    header = {
        "account": account,
        "operation": operation,
        "fetched_at": fetched_at.isoformat(),
        "complete": complete,
        "length": len(body),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    final = where / name
    spool.write_atomically(final, json.dumps(header).encode("ascii") + b"\n" + body)
    return final


def waiting(accounts: list[str]) -> list[KeptAnswer]:
    """The kept answers of ``accounts``, oldest first. A file that cannot be read, or
    whose header is not exactly what :func:`keep` writes, is set aside as ``*.bad``."""
    where = spool.configured_folder(SUBFOLDER)
    if where is None or not where.is_dir():
        return []
    spool.clean_temporary(SUBFOLDER)
    found = []
    for path in sorted(p for p in where.iterdir() if p.suffix == SUFFIX and p.is_file()):
        answer = _read(path)
        if answer is not None and answer.account in accounts:
            found.append(answer)
    return found


def _read(path: Path) -> KeptAnswer | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        spool.set_aside(path, f"cannot be read: {exc.strerror or exc}")
        return None
    try:
        return _parse(path, raw)
    except (ValueError, TypeError) as exc:
        spool.set_aside(path, str(exc))
        return None


def _parse(path: Path, raw: bytes) -> KeptAnswer:
    line, newline, body = raw.partition(b"\n")
    if not newline:
        raise ValueError("no header line")
    header = json.loads(line.decode("ascii"))
    if not isinstance(header, dict) or set(header) != _FIELDS:
        raise ValueError(f"the header's fields are not {sorted(_FIELDS)}")
    if not isinstance(header["account"], str) or not header["account"]:
        raise ValueError("account is not a name")
    if header["operation"] not in OPERATIONS:
        raise ValueError(f"unknown operation {header['operation']!r}")
    if not isinstance(header["complete"], bool):
        raise ValueError("complete is not true or false")
    length = header["length"]
    if not isinstance(length, int) or isinstance(length, bool) or length != len(body):
        raise ValueError(f"the body is {len(body)} bytes, the header says {length!r}")
    if not isinstance(header["fetched_at"], str):
        raise ValueError("fetched_at is not a time")
    fetched_at = dt.datetime.fromisoformat(header["fetched_at"])
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at has no time zone")
    return KeptAnswer(
        path=path,
        account=header["account"],
        operation=header["operation"],
        fetched_at=fetched_at,
        complete=header["complete"],
        body=body,
    )


def from_bytes(raw: bytes) -> KeptAnswer | None:
    """The kept answer in ``raw`` (a file's bytes, a ``*.bad`` one included), or ``None``
    when ``raw`` does not start with a kept answer's header."""
    if not raw.startswith(b"{"):
        return None
    try:
        return _parse(Path(), raw)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def remove(answer: KeptAnswer) -> None:
    spool.remove(answer.path)


def set_aside(answer: KeptAnswer, reason: str) -> None:
    """Rename the answer's file ``*.bad`` and log why: staff import it by hand."""
    spool.set_aside(answer.path, reason)


def counts() -> tuple[int, int]:
    """How many answers wait in the poll folder, and how many were set aside."""
    where = spool.configured_folder(SUBFOLDER)
    if where is None or not where.is_dir():
        return 0, 0
    waiting_files = sum(1 for p in where.iterdir() if p.suffix == SUFFIX)
    return waiting_files, len(spool.bad_files(SUBFOLDER))
