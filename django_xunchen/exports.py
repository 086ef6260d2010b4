"""Every file the package hands staff to open in a spreadsheet (CSV, XLSX), written one
way, so that none of them can run anything there.

The cells come from people we do not trust: a reply from any phone becomes a suppression
cause, an uploaded file's cells come back in a campaign's problems. A spreadsheet treats
a cell beginning with ``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(…)``,
``=cmd|…``), and a tab or carriage return before one as nothing. So:

- **CSV**: such a cell gets a single quote in front (the OWASP rule for CSV injection),
  which the spreadsheet shows and does not evaluate; quotes inside cells are escaped by
  :mod:`csv`. A byte order mark first, for Excel to read UTF-8.
- **XLSX**: every text is written as a string cell, never a formula (openpyxl would make
  ``=…`` a formula and ``#N/A`` an error), exactly as it is, but for the control
  characters XML cannot carry, which become U+FFFD.
- Each file is served with its own content type and a ``Content-Disposition``
  attachment filename.

:func:`export_response` is the one door; :func:`write_csv` and :func:`write_xlsx` write
to a file of your own.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import IO, Any

from django.http import HttpResponse
from django.utils.functional import Promise
from django.utils.http import content_disposition_header

#: The content type each format is served with.
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: What a spreadsheet may read as the start of a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Characters an XLSX file (XML 1.0) cannot hold.
ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Row = Sequence[Any]


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows and never evaluates: a text beginning
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote in
    front. Numbers, dates and ``None`` are left as they are."""
    if isinstance(value, Promise):
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(file: IO[str], header: Row, rows: Iterable[Row]) -> None:
    """``header`` then ``rows`` to the text file ``file``, every cell through
    :func:`safe_cell`."""
    writer = csv.writer(file)
    writer.writerow([safe_cell(v) for v in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])


def xlsx_available() -> bool:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        return False
    return True


def write_xlsx(file: IO[bytes], header: Row, rows: Iterable[Row], title: str = "") -> None:
    """``header`` then ``rows`` as the first sheet of an XLSX workbook, written to the
    binary file ``file`` as the rows come (openpyxl's write-only mode); every text a
    string cell. Needs openpyxl (``pip install django-xunchen[spreadsheets]``)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or None)

    def cells(row: Row) -> list[Any]:
        out = []
        for value in row:
            if isinstance(value, Promise):
                value = str(value)
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=ILLEGAL_XML.sub("\ufffd", value))
                cell.data_type = "s"  # never a formula ("=…") nor an error ("#N/A")
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    book.save(file)


def export_response(fmt: str, filename: str, header: Row, rows: Iterable[Row]) -> HttpResponse:
    """A download of ``header`` and ``rows`` as ``fmt`` (``"csv"`` or ``"xlsx"``),
    named ``filename`` (its extension is ``fmt``'s)."""
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unknown export format {fmt!r}")
    if not filename.lower().endswith("." + fmt):
        filename = f"{filename}.{fmt}"
    response = HttpResponse(content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    if fmt == "csv":
        response.write("\ufeff")  # Excel reads UTF-8 with a byte order mark as UTF-8
        write_csv(response, header, rows)
    else:
        buffer = io.BytesIO()
        write_xlsx(buffer, header, rows)
        response.write(buffer.getvalue())
    return response
