"""Reading the spreadsheets staff upload: CSV (UTF-8, with or without BOM, or GBK, as
Excel saves it on a Chinese Windows) and XLSX, row by row, without holding the file.

The reading and its checks are :mod:`django_xunchen.uploads`' (the size, the kind by
the first bytes, the encoding, an XLSX's unzipped size, the caps on rows and cells),
shared with every other upload; here is what campaigns add: numbers as Excel wrote
them. Every refusal is an :class:`~django_xunchen.uploads.UploadError`, here also
named :class:`SpreadsheetError`, whose message is for staff.

XLSX needs openpyxl (``pip install django-xunchen[spreadsheets]``).
"""

from __future__ import annotations

import codecs
import re
from decimal import Decimal, InvalidOperation
from typing import IO

from ..uploads import Upload, UploadError, cell_text, check_upload, read_rows

__all__ = [
    "SpreadsheetError",
    "Upload",
    "cell_text",
    "check_upload",
    "csv_encoding",
    "excel_number",
    "read_rows",
    "shortened",
]

_CHUNK = 1 << 20
MOBILE_DIGITS = 11
#: More digits than any number a cell of mobiles could mean.
LONGEST = 20
SCIENTIFIC = re.compile(r"^\s*[+]?\d+(\.\d+)?[eE][+]?\d+\s*$")

#: The file cannot be read as a spreadsheet; the message says why, for staff.
SpreadsheetError = UploadError


def excel_number(value: str) -> str:
    """A number Excel wrote as ``13800138000.0`` or ``1.3800138000E+10``, back as its
    digits, when that is exact: scientific notation must carry all 11 digits, since
    ``1.38E+10`` may stand for any number from 13795000000 to 13804999999. Anything else
    comes back as it came (and is refused as not a number), a number of more than
    ``LONGEST`` digits included before any of them is worked out: ``1E+1000000`` would
    take Python half a minute to write out, and ``1E+5000`` is more digits than it will
    turn into text at all."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite() or number <= 0 or number.adjusted() >= LONGEST:
        return value
    if number != number.to_integral_value():
        return value
    if "e" in value.lower():
        mantissa = value.lower().split("e")[0].replace(".", "").lstrip("+-0")
        if len(mantissa) < MOBILE_DIGITS:
            return value
    return str(int(number))


def shortened(value: str) -> bool:
    """Whether ``value`` is an 11-digit number (a mobile's size) in scientific notation
    too short to be exact."""
    value = value.strip()
    return (
        bool(SCIENTIFIC.match(value))
        and excel_number(value) == value
        and Decimal(value).adjusted() == MOBILE_DIGITS - 1
    )


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
