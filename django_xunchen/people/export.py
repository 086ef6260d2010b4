"""The export of one person's data: every row of the app that holds the number, table by
table, as JSON, or as a ZIP of one CSV file per table (each safe to open in a
spreadsheet). Code requests are in it without what proves their code."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import timezone

from ..client.validation import validate_mobiles
from ..exports import write_csv
from .holdings import SECRET_COLUMNS, Held, binary_columns, holdings


@dataclass
class PersonData:
    """What the app holds on :attr:`mobile`, as of :attr:`produced_at`."""

    mobile: str
    produced_at: dt.datetime
    tables: dict[str, list[dict[str, Any]]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "mobile": self.mobile,
            "produced_at": _value(self.produced_at),
            "tables": self.tables,
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def as_zip(self) -> bytes:
        """A ZIP of ``person.json`` and a ``<table>.csv`` file per table that holds the
        number."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("person.json", self.as_json().encode("utf-8"))
            for table, rows in self.tables.items():
                header = list(rows[0]) if rows else []
                text = io.StringIO()
                write_csv(text, header, ([_cell(r[c]) for c in header] for r in rows))
                archive.writestr(f"{table}.csv", text.getvalue().encode("utf-8-sig"))
        return out.getvalue()


def export_person(mobile: str) -> PersonData:
    """Every row that mentions ``mobile`` (``+86``, spaces and dashes are fine; raises
    :class:`~django_xunchen.exceptions.InvalidMobileError` for no number). Reads only."""
    (number,) = validate_mobiles(mobile)
    tables = {
        held.name: [_row(held, row, number) for row in held.rows] for held in holdings(number)
    }
    return PersonData(number, timezone.now(), tables)


def _row(held: Held, row: models.Model, number: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    binary = {f.attname for f in binary_columns(held.model)}
    for field in held.model._meta.concrete_fields:
        if (held.name, field.name) in SECRET_COLUMNS:
            continue
        value = getattr(row, field.attname)
        if field.attname in binary:
            value = _lines_with(bytes(value or b""), number)
        values[field.attname] = _value(value)
    return values


def _lines_with(body: bytes, number: str) -> list[str]:
    """The lines of a raw body that hold the number, as text (the gateway's encoding
    is UTF-8 or GBK)."""
    found = []
    for line in body.splitlines():
        if number.encode() in line:
            try:
                found.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                found.append(line.decode("gbk", errors="replace"))
    return found


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value
