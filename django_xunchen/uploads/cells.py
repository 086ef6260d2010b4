"""What every upload's rows may hold, whatever the file's kind: the caps on a row's
cells and a cell's characters, a cell's value as text, and :class:`UploadError`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

#: The most characters a cell may hold (Excel's own limit).
MAX_CELL = 32_767
#: The most cells a row may have.
MAX_COLUMNS = 1_000


class UploadError(ValueError):
    """The file cannot be taken; the message says why, for staff. ``row`` is the row
    (or line) at fault, when there is one."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def too_many(max_rows: int, row: int | None = None) -> UploadError:
    return UploadError(
        _("The file has more than %(limit)d rows besides a header.") % {"limit": max_rows}, row
    )


def check_width(width: int, row: int) -> None:
    if width > MAX_COLUMNS:
        raise UploadError(
            _("Row %(row)d has more than %(limit)d cells.") % {"row": row, "limit": MAX_COLUMNS},
            row,
        )


def too_long(row: int) -> UploadError:
    return UploadError(
        _("Row %(row)d has a cell of more than %(limit)d characters.")
        % {"row": row, "limit": MAX_CELL},
        row,
    )


def checked(cells: list[str], row: int) -> list[str]:
    if any(len(cell) > MAX_CELL for cell in cells):
        raise too_long(row)
    return cells


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
