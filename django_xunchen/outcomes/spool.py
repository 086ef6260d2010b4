"""A folder on local disk where send outcomes wait when the database refuses them.

The gateway accepted a request and answered with its msgid; if that answer cannot be
written to the database (it is down, restarting, or locked for longer than
``OUTCOME_RETRY_SECONDS``), this folder is the only copy. Each outcome is one JSON file,
written to a temporary name, fsynced, renamed into place and the folder fsynced, so a
crash leaves either the whole file or none. Files are applied and deleted by the next
``send_sms``, ``send_queued`` or ``poll_sms`` on the same host.

A file that cannot be read or applied is renamed ``*.bad`` (:func:`set_aside`), logged
with the reason and counted (:func:`bad_files`), so that it never stops the files behind
it. A temporary file left by a crash mid-write is removed by :func:`clean_temporary`.

The folder must be chosen (``SPOOL_DIR``) unless ``DEBUG`` is on: the system's temporary
folder is lost on reboot and private per service under systemd or in a container.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..conf import xunchen_settings
from ..processes import process_alive

logger = logging.getLogger("django_xunchen.spool")
T = TypeVar("T")
SUFFIX = ".json"
BAD_SUFFIX = ".bad"
TMP_SUFFIX = ".tmp"
#: A temporary file older than this (seconds) is a crash's leftover, unless its writer
#: is a live process on this host.
TMP_MAX_AGE = 60.0
#: … and even then: no write takes an hour, so its process id was reused.
TMP_MAX_AGE_LIVE_WRITER = 3600.0
#: What the writable check writes (and fsyncs): room for a few outcomes, so that a full
#: disk fails it, not the outcome that comes later.
PROBE_BYTES = 16 * 1024

UNSET = (
    "XUNCHEN['SPOOL_DIR'] is not set: with DEBUG off, send outcomes the database refuses "
    "must go to a folder on persistent storage that every sending process of this host "
    "shares, not to the system's temporary folder."
)


def spool_dir() -> Path:
    """The configured folder; with ``DEBUG`` on and none configured, one in the system's
    temporary folder. Raises :class:`ImproperlyConfigured` when ``DEBUG`` is off and
    ``SPOOL_DIR`` is not set (system check ``E014``)."""
    configured = xunchen_settings()["SPOOL_DIR"]
    if configured:
        return Path(configured)
    if not settings.DEBUG:
        raise ImproperlyConfigured(UNSET)
    return Path(tempfile.gettempdir()) / "django-xunchen-spool"


def _configured_dir() -> Path | None:
    """:func:`spool_dir`, or ``None`` when it is not configured: then nothing can have
    been spooled."""
    try:
        return spool_dir()
    except ImproperlyConfigured:
        return None


def check_writable(folder: Path | None = None) -> str | None:
    """``None`` when the spool folder can be created and real bytes written to it (and
    fsynced), else why not. The probe is removed either way."""
    if folder is None:
        try:
            folder = spool_dir()
        except ImproperlyConfigured as exc:
            return str(exc)
    probe = _temporary(folder / f"probe-{uuid.uuid4().hex[:8]}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    finally:
        with contextlib.suppress(OSError):
            os.unlink(probe)
    return None


def write(record: dict[str, Any]) -> Path:
    """Store ``record`` durably; returns its path. Raises :class:`OSError` on failure
    (no temporary file is left), :class:`ImproperlyConfigured` when the folder is not
    set (:func:`spool_dir`)."""
    folder = spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {**record, "host": socket.gethostname(), "pid": os.getpid()}
    name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    final = folder / f"{name}{SUFFIX}"
    write_atomically(final, json.dumps(record, ensure_ascii=False).encode("utf-8"))
    return final


def write_atomically(final: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``final``, fsync it, rename it to
    ``final`` and fsync the folder: a crash leaves the whole file or none. On an error
    (a full disk) the temporary file is removed and the error raised."""
    tmp = _temporary(final)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(final.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:  # pragma: no cover - os.write raises rather than write nothing
            raise OSError(28, os.strerror(28))
        view = view[written:]


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:64] or "_"


def _temporary(final: Path) -> Path:
    """``.<name>.<pid>@<host>.tmp`` beside ``final``: a cleaner can tell whether its
    writer is still alive."""
    return final.with_name(f".{final.name}.{os.getpid()}@{_host_tag()}{TMP_SUFFIX}")


_TMP_WRITER = re.compile(r"\.(\d+)@([^@]+)\.tmp$")


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


def configured_folder(subfolder: str | None = None) -> Path | None:
    """The spool folder, or ``subfolder`` of it; ``None`` when no folder is configured
    (then nothing can have been spooled)."""
    folder = _configured_dir()
    if folder is None or subfolder is None:
        return folder
    return folder / subfolder


def pending() -> list[Path]:
    """The spooled outcomes, oldest first (none when no folder is configured)."""
    folder = _configured_dir()
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and p.is_file())


def load(path: Path, parse: Callable[[Any], T]) -> T | None:
    """``parse`` of the JSON in ``path``; ``None`` if another process took the file
    first, or if it cannot be read (any decoding error, a duplicate key) or ``parse``
    refuses it (raises :class:`ValueError`, :class:`TypeError` or :class:`KeyError`):
    then the file is set aside (:func:`set_aside`), so it never blocks the others."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        set_aside(path, f"cannot be read: {exc.strerror or exc}")
        return None
    try:
        return parse(json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        set_aside(path, _reason(exc))
        return None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise ValueError("a key occurs twice")
    return record


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: byte {exc.object[exc.start]:#04x} at {exc.start}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc}"
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return str(exc) or type(exc).__name__


def _json_object(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise ValueError(f"not a JSON object but {type(record).__name__}")
    return record


def read(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` if another process took it first or it is
    not one (then it is set aside). The shape of an outcome is checked by
    :func:`django_xunchen.outcomes.write.parse_spooled`."""
    return load(path, _json_object)


def set_aside(path: Path, reason: str) -> Path | None:
    """Rename ``path`` to ``*.bad`` and log why at ERROR; returns the new path (``None``
    if another process took the file first, or the rename failed: logged too)."""
    bad = path.with_name(path.stem + BAD_SUFFIX)
    try:
        os.replace(path, bad)
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.error(
            "spool file %s is bad (%s) but could not be renamed to %s: %s",
            path,
            reason,
            bad.name,
            exc.strerror or exc,
        )
        return None
    logger.error("spool file %s is bad (%s); renamed to %s", path, reason, bad.name)
    return bad


def bad_files(subfolder: str | None = None) -> list[Path]:
    """The files set aside as ``*.bad``, in the whole spool or in ``subfolder`` of it
    (and below), oldest first."""
    folder = configured_folder(subfolder)
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob(f"*{BAD_SUFFIX}") if p.is_file())


def clean_temporary(subfolder: str | None = None) -> int:
    """Remove the temporary files a crash mid-write left in the folder (or
    ``subfolder``); returns how many. A file whose writer is a live process on this host
    stays (it may be writing it now), unless it is older than an hour; a file whose
    writer on this host is gone goes at once; any other once it is a minute old."""
    folder = configured_folder(subfolder)
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    now = time.time()
    for path in folder.iterdir():
        if not (path.name.startswith(".") and path.name.endswith(TMP_SUFFIX)):
            continue
        try:
            age = now - path.stat().st_mtime
            if not _leftover(path.name, age):
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # renamed into place, or removed by another cleaner
        except OSError as exc:
            logger.warning("could not remove the spool's temporary file %s: %s", path, exc)
            continue
        removed += 1
        logger.warning("removed a temporary spool file left by a crash: %s", path)
    return removed


def _leftover(name: str, age: float) -> bool:
    writer = _TMP_WRITER.search(name)
    if writer and writer.group(2) == _host_tag():
        if not process_alive(int(writer.group(1))):
            return True
        return age > TMP_MAX_AGE_LIVE_WRITER
    return age > TMP_MAX_AGE


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
