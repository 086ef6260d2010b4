"""A folder on local disk where send outcomes wait when the database refuses them.

The gateway accepted a request and answered with its msgid; if that answer cannot be
written to the database (it is down, restarting, or locked for longer than
``OUTCOME_RETRY_SECONDS``), this folder is the only copy. Each outcome is one JSON file,
written to a temporary name, fsynced, renamed into place and the folder fsynced, so a
crash leaves either the whole file or none. Files are applied and deleted by the next
``send_sms``, ``send_queued`` or ``poll_sms`` on the same host.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .conf import xunchen_settings

logger = logging.getLogger("django_xunchen.spool")
SUFFIX = ".json"


def spool_dir() -> Path:
    configured = xunchen_settings()["SPOOL_DIR"]
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "django-xunchen-spool"


def check_writable(folder: Path | None = None) -> str | None:
    """``None`` when the spool folder can be created and written to, else why not."""
    folder = folder or spool_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    return None


def write(record: dict[str, Any]) -> Path:
    """Store ``record`` durably; returns its path. Raises :class:`OSError` on failure."""
    folder = spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {**record, "host": socket.gethostname(), "pid": os.getpid()}
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{name}.tmp"
    final = folder / f"{name}{SUFFIX}"
    with open(tmp, "x", encoding="utf-8") as handle:
        json.dump(record, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    _fsync_dir(folder)
    return final


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def pending() -> list[Path]:
    """The spooled outcomes, oldest first."""
    folder = spool_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())


def read(path: Path) -> dict[str, Any] | None:
    """The record in ``path``; ``None`` if another process took it first. A file that is
    not a record is renamed ``*.bad`` and logged, so it never blocks the others."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        record = json.loads(text)
        if not isinstance(record, dict) or not isinstance(record.get("ids"), list):
            raise ValueError("not a spooled outcome")
    except ValueError as exc:
        bad = path.with_suffix(".bad")
        logger.error("spool file %s is unreadable (%s); renamed to %s", path, exc, bad.name)
        os.replace(path, bad)
        return None
    return record


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
