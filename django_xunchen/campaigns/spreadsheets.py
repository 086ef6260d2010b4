"""Reading the spreadsheets staff upload: CSV (UTF-8, with or without BOM, or GBK, as
Excel saves it on a Chinese Windows) and XLSX, row by row, without holding the file.

XLSX needs openpyxl (``pip install django-xunchen[spreadsheets]``).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

_CHUNK = 1 << 20
SCIENTIFIC = re.compile(r"^\s*[+]?\d+(\.\d+)?[eE][+]?\d+\s*$")


class SpreadsheetError(ValueError):
    """The file cannot be read as a spreadsheet; the message says why, for staff."""


def excel_number(value: str) -> str:
    """A number Excel wrote as ``13800138000.0`` or ``1.3800138000E+10``, back as its
    digits, when that is exact: scientific notation must carry all 11 digits, since
    ``1.38E+10`` may stand for any number from 13795000000 to 13804999999. Anything else
    comes back as it came (and is refused as not a number)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite() or number <= 0 or number != number.to_integral_value():
        return value
    if "e" in value.lower():
        mantissa = value.lower().split("e")[0].replace(".", "").lstrip("+-0")
        if len(mantissa) < 11:
            return value
    return str(int(number))


def shortened(value: str) -> bool:
    """Whether ``value`` is a number in scientific notation too short to be exact."""
    return bool(SCIENTIFIC.match(value)) and excel_number(value.strip()) == value.strip()


def csv_encoding(file: IO[bytes]) -> str:
    """``utf-8-sig`` with a BOM, ``utf-8`` if the whole file decodes as UTF-8, else
    ``gb18030`` (GBK's superset). Reads the file once, a chunk at a time."""
    file.seek(0)
    head = file.read(3)
    if head == codecs.BOM_UTF8:
        file.seek(0)
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = head
    try:
        while chunk:
            decoder.decode(chunk)
            chunk = file.read(_CHUNK)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        file.seek(0)
        return "gb18030"
    file.seek(0)
    return "utf-8"


def read_rows(file: IO[bytes], name: str) -> Iterator[list[str]]:
    """The rows of ``file`` (named ``name``: ``.csv``, ``.txt`` or ``.xlsx``) as lists of
    stripped strings; numbers as Excel stored them (``13800138000``, not ``1.38E+10``)."""
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt"):
        return _csv_rows(file)
    if suffix == ".xlsx":
        return _xlsx_rows(file)
    raise SpreadsheetError(_("Upload a CSV or XLSX file, not %(name)s.") % {"name": name})


def _csv_rows(file: IO[bytes]) -> Iterator[list[str]]:
    encoding = csv_encoding(file)
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        for row in csv.reader(text):
            yield [cell.strip() for cell in row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SpreadsheetError(
            _("The file is not a readable CSV file: %(error)s") % {"error": exc}
        ) from None
    finally:
        text.detach()


def _xlsx_rows(file: IO[bytes]) -> Iterator[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise SpreadsheetError(
            _("Install django-xunchen[spreadsheets] to read XLSX files.")
        ) from None
    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise SpreadsheetError(
            _("The file is not a readable XLSX file: %(error)s") % {"error": exc}
        ) from None
    try:
        for row in book.worksheets[0].iter_rows(values_only=True):
            yield [cell_text(value) for value in row]
    finally:
        book.close()


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()
