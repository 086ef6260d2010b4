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
cells a row and :data:`MAX_CELL` characters a cell. XLSX is read with openpyxl in
read-only mode, a row at a time.

Every refusal is an :class:`UploadError`, whose text says what is wrong and where.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from lxml import etree

from .conf import xunchen_settings

#: The most characters a cell may hold (Excel's own limit).
MAX_CELL = 32_767
#: The most cells a row may have.
MAX_COLUMNS = 1_000
#: All the parts of an XLSX file may unzip to this many times ``UPLOAD_MAX_BYTES``.
XLSX_EXPANSION = 10
#: The most parts (files in the ZIP) an XLSX file may have; Excel writes about a dozen.
XLSX_MAX_PARTS = 1_000

_CHUNK = 1 << 20
_ZIP = b"PK\x03\x04"
#: A row's tag, with its number when it has one.
_ROW = re.compile(rb'<(?:\w{1,10}:)?row(?=[\s>/])(?:[^>]{0,200}?\br="(\d{1,12})")?')
_DIMENSION = re.compile(
    rb"<(?:\w{1,10}:)?dimension\s[^>]{0,200}?"
    rb'\bref="[A-Z]{0,3}(\d{0,12})(?::[A-Z]{0,3}(\d{0,12}))?"'
)


class UploadError(ValueError):
    """The file cannot be taken; the message says why, for staff. ``row`` is the row
    (or line) at fault, when there is one."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


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
        encoding, rows = _csv_encoding(file, head, max_rows)
        return Upload(kind, size, rows, encoding)
    if not head.startswith(_ZIP):
        raise _mislabelled(name, _what(head) or _("something else"))
    return Upload(kind, size, _check_xlsx(file, size, max_bytes, max_rows))


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
        return _csv_rows(file, found.encoding, cap)
    return _xlsx_rows(file, cap)


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


def _too_many(max_rows: int, row: int | None = None) -> UploadError:
    return UploadError(
        _("The file has more than %(limit)d rows besides a header.") % {"limit": max_rows}, row
    )


def _check_width(width: int, row: int) -> None:
    if width > MAX_COLUMNS:
        raise UploadError(
            _("Row %(row)d has more than %(limit)d cells.") % {"row": row, "limit": MAX_COLUMNS},
            row,
        )


def _too_long(row: int) -> UploadError:
    return UploadError(
        _("Row %(row)d has a cell of more than %(limit)d characters.")
        % {"row": row, "limit": MAX_CELL},
        row,
    )


def _checked(cells: list[str], row: int) -> list[str]:
    if any(len(cell) > MAX_CELL for cell in cells):
        raise _too_long(row)
    return cells


# ---------------------------------------------------------------------------- CSV


def _csv_encoding(file: IO[bytes], head: bytes, max_rows: int) -> tuple[str, int]:
    """``utf-8-sig`` with a byte order mark, else ``utf-8`` if every line decodes as
    UTF-8, else ``gb18030``, and the file's rows; a line with a NUL byte, or that decodes
    in neither, is named, and a file of more than ``max_rows`` rows besides a header is
    refused."""
    encodings = ["utf-8-sig"] if head.startswith(b"\xef\xbb\xbf") else ["utf-8", "gb18030"]
    bad = lines = 0
    for encoding in encodings:
        bad, lines = _decode_lines(file, encoding)
        if not bad:
            break
    else:
        raise UploadError(
            _("Line %(line)d is neither UTF-8 nor GBK text: save the file as CSV (UTF-8).")
            % {"line": bad},
            bad,
        )
    if lines > max_rows + 1:  # a quoted cell may hold line breaks: count the records
        lines = sum(1 for _row in _csv_rows(file, encoding, max_rows))  # raises past the cap
        file.seek(0)
    return encoding, lines


def _decode_lines(file: IO[bytes], encoding: str) -> tuple[int, int]:
    """The number of the first line that does not decode (0: none), and the lines; read
    a chunk at a time, so that a file of one endless line costs no more than another."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    breaks = carried = 0  # line breaks so far; commas on the line the last chunk ended in
    last = b""
    try:
        while chunk := file.read(_CHUNK):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                line = breaks + chunk.count(b"\n", 0, nul) + 1
                raise UploadError(
                    _("Line %(line)d has a NUL byte: this is not a text (CSV) file.")
                    % {"line": line},
                    line,
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return breaks + chunk.count(b"\n", 0, max(exc.start, 0)) + 1, 0
            carried = _wide_lines(chunk, breaks, carried)
            breaks += chunk.count(b"\n")
            last = chunk[-1:]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return breaks + 1, 0
    finally:
        file.seek(0)
    return 0, breaks + (1 if last not in (b"", b"\n") else 0)


def _wide_lines(chunk: bytes, breaks: int, carried: int) -> int:
    """Refuse a line of more than :data:`MAX_COLUMNS` commas before :mod:`csv` makes a
    list of its cells (a line of 50 million commas would take gigabytes). Looks line by
    line only when the chunk's commas outnumber what its lines may hold, or a line goes
    on from the chunk before; returns the commas of the line the chunk ends in."""
    commas = chunk.count(b",")
    newlines = chunk.count(b"\n")
    first = chunk.find(b"\n")
    spanning = carried + chunk.count(b",", 0, first if first >= 0 else len(chunk))
    if commas > MAX_COLUMNS * (newlines + 1) or spanning > MAX_COLUMNS:
        for index, line in enumerate(chunk.split(b"\n")):
            if line.count(b",") + (carried if index == 0 else 0) >= MAX_COLUMNS:
                _check_width(MAX_COLUMNS + 1, breaks + index + 1)
    if first < 0:
        return carried + commas
    return chunk.count(b",", chunk.rfind(b"\n") + 1)


def _csv_rows(file: IO[bytes], encoding: str, max_rows: int) -> Iterator[list[str]]:
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")  # type: ignore[arg-type]
    number = 0
    try:
        for row in csv.reader(text):
            number += 1
            if number > max_rows + 1:
                raise _too_many(max_rows, number)
            _check_width(len(row), number)
            yield _checked([cell.strip() for cell in row], number)
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise _too_long(number + 1) from None
        raise UploadError(
            _("Row %(row)d is not valid CSV: %(error)s") % {"row": number + 1, "error": exc},
            number + 1,
        ) from None
    except UnicodeDecodeError:  # the file changed since it was checked
        raise UploadError(
            _("Line %(line)d is neither UTF-8 nor GBK text: save the file as CSV (UTF-8).")
            % {"line": number + 1},
            number + 1,
        ) from None
    finally:
        text.detach()


# ---------------------------------------------------------------------------- XLSX


def _unreadable(error: object) -> UploadError:
    return UploadError(
        _("The file is not a readable XLSX file: %(error)s")
        % {"error": str(error) or type(error).__name__}
    )


def _too_big(size: int, limit: int) -> UploadError:
    return UploadError(
        _("The XLSX file unzips to %(size)s, more than the %(limit)s allowed.")
        % {"size": filesizeformat(size), "limit": filesizeformat(limit)}
    )


def _too_many_parts(count: int) -> UploadError:
    return UploadError(
        _("The XLSX file has %(count)d parts, more than the %(limit)d allowed.")
        % {"count": count, "limit": XLSX_MAX_PARTS}
    )


def _parts_declared(file: IO[bytes], size: int) -> int | None:
    """How many parts the ZIP's end record declares, read before
    :class:`zipfile.ZipFile` reads the whole directory (``None``: no end record)."""
    tail_length = min(size, 22 + 0xFFFF)
    file.seek(size - tail_length)
    tail = file.read(tail_length)
    file.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    return struct.unpack("<H", tail[at + 10 : at + 12])[0]


def _check_xlsx(file: IO[bytes], size: int, max_bytes: int, max_rows: int) -> int:
    """The rows of the first sheet of an XLSX file, once its parts are known to unzip to
    a bounded size and its rows to be at most ``max_rows`` besides a header."""
    parts = _parts_declared(file, size)
    if parts is None:
        raise _unreadable(_("no ZIP directory"))
    if parts > XLSX_MAX_PARTS:
        raise _too_many_parts(parts)
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            if len(infos) > XLSX_MAX_PARTS:
                raise _too_many_parts(len(infos))
            total = sum(info.file_size for info in infos)
            if total > max_bytes * XLSX_EXPANSION:
                raise _too_big(total, max_bytes * XLSX_EXPANSION)
            sheet = _first_sheet(archive)
            for info in infos:  # the parts openpyxl reads whole: strings, styles…
                whole = info.filename != sheet and "worksheets/" not in info.filename
                if whole and info.file_size > max_bytes:
                    raise _too_big(info.file_size, max_bytes)
            if _declared_rows(archive, sheet) > max_rows + 1:
                raise _too_many(max_rows)
            return _count_rows(archive, sheet, max_rows)
    except UploadError:
        raise
    except Exception as exc:  # zipfile and the XML parser raise many kinds
        raise _unreadable(exc) from None
    finally:
        file.seek(0)


def _xml(archive: zipfile.ZipFile, name: str) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    return etree.fromstring(archive.read(name), parser=parser)


def _first_sheet(archive: zipfile.ZipFile) -> str:
    """The part of the workbook's first worksheet, found as openpyxl finds it: the
    workbook part named in ``[Content_Types].xml``, its first sheet, its relationship."""
    names = set(archive.namelist())
    workbook = "xl/workbook.xml"
    for override in _xml(archive, "[Content_Types].xml").iter("{*}Override"):
        if override.get("ContentType", "").endswith((".sheet.main+xml", ".template.main+xml")):
            workbook = override.get("PartName", "").lstrip("/")
            break
    folder, base = posixpath.split(workbook)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    targets = {}
    if rels in names:
        for rel in _xml(archive, rels).iter("{*}Relationship"):
            if rel.get("Type", "").endswith("/worksheet"):
                target = rel.get("Target", "")
                if target.startswith("/"):
                    target = target.lstrip("/")
                else:
                    target = posixpath.normpath(posixpath.join(folder, target))
                targets[rel.get("Id")] = target
    for sheet in _xml(archive, workbook).iter("{*}sheet"):
        rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        if targets.get(rid) in names:
            return targets[rid]
    raise UploadError(_("The XLSX file has no worksheet."))


def _declared_rows(archive: zipfile.ZipFile, sheet: str) -> int:
    """The last row of the sheet's declared dimension (``A1:C5000000``: 5000000), or 0."""
    with archive.open(sheet) as source:
        head = source.read(1 << 16)
    found = _DIMENSION.search(head)
    if not found:
        return 0
    return int(found.group(2) or found.group(1) or 0)


def _count_rows(archive: zipfile.ZipFile, sheet: str, max_rows: int) -> int:
    """The sheet's rows, counted in its XML as it unzips, a chunk at a time: its
    ``<row>`` elements, or the last one's number if higher (openpyxl fills a gap with
    empty rows). Raises as soon as there are more than ``max_rows`` besides a header."""
    keep = 256  # longer than any match of _ROW
    count = highest = 0
    tail = b""
    with archive.open(sheet) as source:
        while True:
            chunk = source.read(_CHUNK)
            buffer = tail + chunk
            end = len(buffer) if not chunk else max(len(buffer) - keep, 0)
            for found in _ROW.finditer(buffer):
                if found.start() >= end:
                    break
                count += 1
                if found.group(1):
                    highest = max(highest, int(found.group(1)))
            if max(count, highest) > max_rows + 1:
                raise _too_many(max_rows)
            if not chunk:
                return max(count, highest)
            tail = buffer[end:]


def _xlsx_rows(file: IO[bytes], max_rows: int) -> Iterator[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise UploadError(_("Install django-xunchen[spreadsheets] to read XLSX files.")) from None
    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # each row as long as its cells, not the declared width
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise _unreadable(exc) from None
    return _xlsx_values(book, sheet, max_rows)


def _xlsx_values(book: Any, sheet: Any, max_rows: int) -> Iterator[list[str]]:
    number = 0
    try:
        for values in sheet.iter_rows(values_only=True):
            number += 1
            if number > max_rows + 1:
                raise _too_many(max_rows, number)
            _check_width(len(values), number)
            yield _checked([cell_text(value) for value in values], number)
    except UploadError:
        raise
    except Exception as exc:  # a part that breaks off or is not XML, a bad CRC…
        raise UploadError(
            _("Row %(row)d of the XLSX file cannot be read: %(error)s")
            % {"row": number + 1, "error": str(exc) or type(exc).__name__},
            number + 1,
        ) from None
    finally:
        book.close()


def cell_text(value: Any) -> str:
    """A cell's value as text: a whole float without its ``.0``, a date in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()
