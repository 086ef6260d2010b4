"""XLSX uploads, looked into before a row is read and then read as a stream.

The check (:func:`check_xlsx`): how many parts the ZIP declares, what each part unzips
to, the first sheet's declared dimension and its rows, counted in its XML as it unzips;
a zip bomb stops here, having cost a pass over bytes.

The reading (:func:`xlsx_rows`) parses the sheet's XML a row at a time and drops each
row once read, and holds the shared strings (every text cell Excel writes lives there)
as one UTF-8 blob and its offsets. openpyxl, even read-only, keeps every parsed element
of both parts in its tree and the strings as a list: an Excel file of a million distinct
texts peaked at 312 MB in the campaign check. The values are openpyxl's (its number
formats say which cells are dates, its conversions make them), so a file reads the same
either way; openpyxl is still needed (``django-xunchen[spreadsheets]``).
"""

from __future__ import annotations

import posixpath
import re
import struct
import zipfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, overload

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from lxml import etree

from .cells import UploadError, cell_text, check_width, checked, too_many

#: All the parts of an XLSX file may unzip to this many times ``UPLOAD_MAX_BYTES``.
XLSX_EXPANSION = 10
#: The most parts (files in the ZIP) an XLSX file may have; Excel writes about a dozen.
XLSX_MAX_PARTS = 1_000

_CHUNK = 1 << 20
#: A row's tag, with its number when it has one.
_ROW = re.compile(rb'<(?:\w{1,10}:)?row(?=[\s>/])(?:[^>]{0,200}?\br="(\d{1,12})")?')
_DIMENSION = re.compile(
    rb"<(?:\w{1,10}:)?dimension\s[^>]{0,200}?"
    rb'\bref="[A-Z]{0,3}(\d{0,12})(?::[A-Z]{0,3}(\d{0,12}))?"'
)
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_STYLES = "xl/styles.xml"  # where openpyxl looks, whatever the relationships say
_CELL = re.compile(r"([A-Z]{1,3})(\d+)")


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


def check_xlsx(file: IO[bytes], size: int, max_bytes: int, max_rows: int) -> int:
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
                raise too_many(max_rows)
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
    workbook = _workbook_part(archive)
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


def _workbook_part(archive: zipfile.ZipFile) -> str:
    for override in _xml(archive, "[Content_Types].xml").iter("{*}Override"):
        if override.get("ContentType", "").endswith((".sheet.main+xml", ".template.main+xml")):
            return override.get("PartName", "").lstrip("/")
    return "xl/workbook.xml"


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
                raise too_many(max_rows)
            if not chunk:
                return max(count, highest)
            tail = buffer[end:]


class SharedStrings(Sequence[str]):
    """A workbook's shared strings, read from their part as a stream and held as one
    UTF-8 blob and the offsets into it: a million short texts take some 20 MB, not the
    hundreds a list of strings and a parsed tree would."""

    def __init__(self, source: IO[bytes]) -> None:
        blob = bytearray()
        offsets = array("Q", [0])
        for item in _elements(source, f"{_MAIN}si"):
            blob += _text(item).replace("x005F_", "").encode("utf-8", "surrogatepass")
            offsets.append(len(blob))
        self._blob = bytes(blob)
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not 0 <= index < len(self):
            raise IndexError(_("there is no shared string %(index)d") % {"index": index})
        start, end = self._offsets[index], self._offsets[index + 1]
        return self._blob[start:end].decode("utf-8", "surrogatepass")


def _elements(source: IO[bytes], tag: str) -> Iterator[Any]:
    """Each ``tag`` element of the XML in ``source``, complete; dropped from the tree
    once the caller is done with it, with whatever came before it."""
    events = etree.iterparse(
        source, events=("end",), tag=tag, resolve_entities=False, no_network=True
    )
    for _event, element in events:
        yield element
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]


def _text(element: Any) -> str:
    """A string item's text as openpyxl reads it: its plain text, then its runs' text
    (phonetic guides left out)."""
    plain = element.find(f"{_MAIN}t")
    parts = [plain.text or ""] if plain is not None else []
    parts.extend(run.findtext(f"{_MAIN}t") or "" for run in element.iterfind(f"{_MAIN}r"))
    return "".join(parts)


def xlsx_rows(file: IO[bytes], max_rows: int) -> Iterator[list[str]]:
    """The rows of the first sheet, as openpyxl gives them read-only (a row as long as
    its last cell, an empty row for each missing one), each a list of texts."""
    try:
        from openpyxl.styles.stylesheet import Stylesheet
        from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH
        from openpyxl.xml.functions import fromstring
    except ImportError:
        raise UploadError(_("Install django-xunchen[spreadsheets] to read XLSX files.")) from None
    try:
        archive = zipfile.ZipFile(file)
        sheet = _first_sheet(archive)
        names = set(archive.namelist())
        dates: set[int] = set()
        timedeltas: set[int] = set()
        if _STYLES in names:
            styles = Stylesheet.from_tree(fromstring(archive.read(_STYLES)))
            if styles.cell_styles:
                dates, timedeltas = set(styles.date_formats), set(styles.timedelta_formats)
        epoch = MAC_EPOCH if _date1904(archive) else WINDOWS_EPOCH
        strings: Sequence[str] = []
        part = _shared_strings_part(archive)
        if part is not None:
            with archive.open(part) as source:
                strings = SharedStrings(source)
    except UploadError:
        raise
    except Exception as exc:  # zipfile, the XML parser and openpyxl raise many kinds
        raise _unreadable(exc) from None
    read = _cell_reader(strings, dates, timedeltas, epoch)
    return _sheet_rows(archive, sheet, read, max_rows)


def _date1904(archive: zipfile.ZipFile) -> bool:
    workbook = _workbook_part(archive)
    properties = _xml(archive, workbook).find(f"{_MAIN}workbookPr")
    if properties is None:
        return False
    return properties.get("date1904") not in (None, "", "false", "f", "0")  # as openpyxl


def _shared_strings_part(archive: zipfile.ZipFile) -> str | None:
    for override in _xml(archive, "[Content_Types].xml").iter("{*}Override"):
        if override.get("ContentType") == _SHARED_STRINGS:
            return override.get("PartName", "")[1:]
    return None


def _cell_reader(
    strings: Sequence[str], dates: set[int], timedeltas: set[int], epoch: Any
) -> Callable[[Any], Any]:
    """What reads one ``<c>`` element's value as openpyxl does with ``data_only``: the
    cached value of a formula, a number as int or float, a date where the cell's number
    format says so, a shared string by its index."""
    from openpyxl.utils.datetime import from_excel, from_ISO8601

    def read(cell: Any) -> Any:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            inline = cell.find(f"{_MAIN}is")
            return None if inline is None else _text(inline)
        value = cell.findtext(f"{_MAIN}v") or None
        if value is None:
            return None
        if kind == "n":
            number = float(value) if ("." in value or "e" in value.lower()) else int(value)
            style = int(cell.get("s") or 0)
            if style not in dates:
                return number
            try:
                return from_excel(number, epoch, timedelta=style in timedeltas)
            except (OverflowError, ValueError):
                return "#VALUE!"
        if kind == "s":
            return strings[int(value)]
        if kind == "b":
            return bool(int(value))
        if kind == "d":
            return from_ISO8601(value)
        return value

    return read


def _sheet_rows(
    archive: zipfile.ZipFile, sheet: str, read: Callable[[Any], Any], max_rows: int
) -> Iterator[list[str]]:
    number = 0
    try:
        with archive.open(sheet) as source:
            for row in _elements(source, f"{_MAIN}row"):
                at = _row_number(row, number)
                while number + 1 < at:  # a missing row reads as an empty one
                    number += 1
                    if number > max_rows + 1:
                        raise too_many(max_rows, number)
                    yield []
                if at <= number:  # a row again, or out of order: openpyxl skips it
                    continue
                if number + 1 > max_rows + 1:
                    raise too_many(max_rows, number + 1)
                values = _row_values(row, read)
                number += 1
                check_width(len(values), number)
                yield checked([cell_text(value) for value in values], number)
    except UploadError:
        raise
    except Exception as exc:  # a part that breaks off or is not XML, a bad CRC…
        raise UploadError(
            _("Row %(row)d of the XLSX file cannot be read: %(error)s")
            % {"row": number + 1, "error": str(exc) or type(exc).__name__},
            number + 1,
        ) from None
    finally:
        archive.close()


def _row_number(row: Any, previous: int) -> int:
    """The row's number: its ``r``, or the one after the previous row's."""
    given = row.get("r")
    if given is None:
        return previous + 1
    number = float(given)
    if not number.is_integer():
        raise ValueError(f"{given} is not a valid row number")
    return int(number)


def _row_values(row: Any, read: Callable[[Any], Any]) -> list[Any]:
    """The values of a row, each at its column, as long as its last cell."""
    cells: list[tuple[int, Any]] = []
    column = 0
    for cell in row.iterfind(f"{_MAIN}c"):
        reference = cell.get("r")
        if reference:
            found = _CELL.fullmatch(reference.upper())
            if found is None:
                raise ValueError(f"{reference} is not a cell reference")
            column = _column_index(found.group(1))
        else:
            column += 1
        cells.append((column, read(cell)))
    if not cells:
        return []
    width = cells[-1][0]
    values: list[Any] = [None] * width
    for at, value in cells:
        if at <= width:
            values[at - 1] = value
    return values


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index
