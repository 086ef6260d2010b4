"""Reading the files staff upload (CSV and XLSX) as if each one were hostile: whatever
can be checked before a row is read is checked first, the rest while reading, so that a
bad file is refused with a reason for staff, never a server error, and never costs more
memory or time than the limits allow.

Before any row is read (:func:`check_upload`, which :func:`read_rows` calls first):

- the size: at most ``UPLOAD_MAX_BYTES``, and not empty;
- the kind, by the name (``.csv``, ``.txt``, ``.xlsx``) and by the first bytes: a PNG, a
  PDF, an old ``.xls`` or a ZIP named ``.csv`` is refused, and so is anything named
  ``.xlsx`` that is not a ZIP;
- a CSV file is decoded once, line by line: UTF-8 (with or without a byte order mark),
  else GB18030 (GBK's superset); the first line that is neither, or that holds a NUL
  byte, is named; its rows are counted;
- an XLSX file is looked into before openpyxl opens it: how many parts its ZIP
  declares, what each part unzips to (each part openpyxl reads whole at most
  ``UPLOAD_MAX_BYTES``, all of them together at most :data:`XLSX_EXPANSION` times
  that), its first sheet's declared dimension, and that sheet's rows, counted in its XML
  as it unzips (a zip bomb stops here, having cost a pass over bytes);
- at most ``UPLOAD_MAX_ROWS`` rows besides a header.

While reading (:func:`read_rows`): the same cap on rows, at most :data:`MAX_COLUMNS`
cells a row and :data:`MAX_CELL` characters a cell. XLSX is read a row at a time, each
dropped once read, its shared strings held packed (:mod:`.xlsx_files`).

The modules: :mod:`.cells` (what a row may hold, :class:`UploadError`),
:mod:`.csv_files`, :mod:`.xlsx_files`.

Every refusal is an :class:`UploadError`, whose text says what is wrong and where.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ..conf import xunchen_settings
from .cells import MAX_CELL, MAX_COLUMNS, UploadError, cell_text
from .csv_files import csv_encoding, csv_rows
from .xlsx_files import XLSX_EXPANSION, XLSX_MAX_PARTS, check_xlsx, xlsx_rows

__all__ = [
    "MAX_CELL",
    "MAX_COLUMNS",
    "XLSX_EXPANSION",
    "XLSX_MAX_PARTS",
    "Upload",
    "UploadError",
    "cell_text",
    "check_upload",
    "read_rows",
    "upload_limits",
]

_ZIP = b"PK\x03\x04"


@dataclass
class Upload:
    """What :func:`check_upload` found before any row was read: the format (``"csv"`` or
    ``"xlsx"``), the size in bytes, the rows (the header and blank rows included) and a
    CSV file's encoding."""

    kind: str
    size: int
    rows: int
    encoding: str = ""


def upload_limits() -> tuple[int, int]:
    """``(UPLOAD_MAX_BYTES, UPLOAD_MAX_ROWS)`` from the settings."""
    conf = xunchen_settings()
    return int(conf["UPLOAD_MAX_BYTES"]), int(conf["UPLOAD_MAX_ROWS"])


def check_upload(
    file: IO[bytes], name: str, *, max_bytes: int | None = None, max_rows: int | None = None
) -> Upload:
    """Everything about ``file`` (named ``name``) that can be checked before a row is
    read, with the caps of the settings unless given. Raises :class:`UploadError`;
    leaves ``file`` at its start."""
    default_bytes, default_rows = upload_limits()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    max_rows = default_rows if max_rows is None else max_rows
    kind = _format_of(name)
    size = _size(file)
    if size == 0:
        raise UploadError(_("The file is empty."))
    if size > max_bytes:
        raise UploadError(
            _("The file is %(size)s, more than the %(limit)s allowed.")
            % {"size": filesizeformat(size), "limit": filesizeformat(max_bytes)}
        )
    file.seek(0)
    head = file.read(8)
    file.seek(0)
    if kind == "csv":
        what = _what(head)
        if what is not None:
            raise _mislabelled(name, what)
        encoding, rows = csv_encoding(file, head, max_rows)
        return Upload(kind, size, rows, encoding)
    if not head.startswith(_ZIP):
        raise _mislabelled(name, _what(head) or _("something else"))
    return Upload(kind, size, check_xlsx(file, size, max_bytes, max_rows))


def read_rows(
    file: IO[bytes], name: str, *, max_bytes: int | None = None, max_rows: int | None = None
) -> Iterator[list[str]]:
    """The rows of ``file`` (named ``name``) as lists of stripped strings, numbers as
    Excel stored them (``13800138000``, not ``1.38E+10``). The file is checked at once,
    by :func:`check_upload`; each row as it is read. Raises :class:`UploadError`, at the
    call or while iterating (naming the row)."""
    found = check_upload(file, name, max_bytes=max_bytes, max_rows=max_rows)
    cap = upload_limits()[1] if max_rows is None else max_rows
    if found.kind == "csv":
        return csv_rows(file, found.encoding, cap)
    return xlsx_rows(file, cap)


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise UploadError(_("Upload a CSV or XLSX file, not %(name)s.") % {"name": name})


def _size(file: IO[bytes]) -> int:
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def _what(head: bytes) -> str | None:
    """What a file starting with ``head`` is, when it is no text."""
    kinds = [
        (b"\x89PNG", _("a PNG image")),
        (b"\xff\xd8\xff", _("a JPEG image")),
        (b"GIF8", _("a GIF image")),
        (b"%PDF", _("a PDF document")),
        (_ZIP, _("an XLSX workbook or another ZIP archive")),
        (b"\xd0\xcf\x11\xe0", _("an old Excel (.xls) or encrypted workbook")),
        (b"\x1f\x8b", _("a GZIP archive")),
        (b"Rar!", _("a RAR archive")),
        (b"7z\xbc\xaf", _("a 7-Zip archive")),
        (b"\xff\xfe", _("UTF-16 text")),
        (b"\xfe\xff", _("UTF-16 text")),
    ]
    return next((what for magic, what in kinds if head.startswith(magic)), None)


def _mislabelled(name: str, what: str) -> UploadError:
    return UploadError(
        _("%(name)s holds %(what)s: save it from Excel as CSV (UTF-8) or XLSX.")
        % {"name": name, "what": what}
    )
