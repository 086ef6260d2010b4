"""The import of consents a site already holds (a sign-up sheet, an older system): a CSV
or XLSX file read by :mod:`django_xunchen.uploads` (its size, kind, rows and cells
checked), the first column the number, an optional second column when the person
agreed. Every row becomes a grant with the file's name and its row as evidence, in one
transaction: a file with a bad row is refused whole, naming the rows, and writes
nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from ..campaigns.spreadsheets import excel_number
from ..client.validation import normalize_mobile
from ..models import Consent
from ..models.consent import MARKETING
from ..signals import consent_granted, send_on_commit
from ..uploads import UploadError, read_rows
from .ledger import BATCH, Evidence, clean_scope

#: Values of a header row's first cell (the row is then skipped).
HEADERS = ("mobile", "number", "phone", "号码", "手机", "手机号", "手机号码", "电话")
#: Bad rows named in the error of a refused file.
BAD_SHOWN = 10


@dataclass
class Imported:
    """What :func:`import_consents` wrote."""

    granted: int = 0


def import_consents(
    file: IO[bytes],
    name: str,
    *,
    scope: str = MARKETING,
    wording: str = "",
    note: str = "",
    staff: Any = None,
    agreed_at: dt.datetime | None = None,
) -> Imported:
    """A grant of ``scope`` for each row of the file, with ``wording`` (what the people
    agreed to), ``note`` (where the consents come from) and ``staff``. A row's time is
    its second column, else ``agreed_at``; a row with neither is refused, since a grant
    dated "now" would undo every withdrawal made since the person really agreed. Raises
    :class:`~django_xunchen.uploads.UploadError` for a file refused (too large, not a
    spreadsheet, a bad number or date): nothing is written then."""
    scope = clean_scope(scope)
    rows = read_rows(file, name)  # checks the file before any row is read
    base = Evidence(wording=wording, note=note, staff=staff, file_name=name).fields()
    now = timezone.now()
    bad: list[str] = []
    written: list[Consent] = []  # kept for consent_granted, when someone listens
    signalled = consent_granted.has_listeners(Consent)
    count = 0
    with transaction.atomic():
        batch: list[Consent] = []
        for number, at, row in _grants(rows, now, agreed_at, bad):
            if bad:
                continue  # refused already: read on only to name more bad rows
            batch.append(
                Consent(
                    mobile=number,
                    scope=scope,
                    granted=True,
                    at=at,
                    recorded_at=now,
                    source=Consent.Source.IMPORT,
                    **{**base, "file_row": row},
                )
            )
            if len(batch) >= BATCH:
                count += _store(batch, written if signalled else None)
                batch = []
        if bad:
            raise UploadError(
                _(
                    "Nothing was imported: these rows hold no mobile number, or no date of "
                    "consent (give one for the whole file if the rows have none): %(rows)s"
                )
                % {"rows": "; ".join(bad)}
            )
        count += _store(batch, written if signalled else None)
        send_on_commit(
            (consent_granted, Consent, {"mobile": e.mobile, "consent": e}) for e in written
        )
    return Imported(granted=count)


def _store(batch: list[Consent], kept: list[Consent] | None) -> int:
    Consent.objects.bulk_create(batch)
    if kept is not None:
        kept.extend(batch)
    return len(batch)


def _grants(
    rows: Iterator[list[str]], now: dt.datetime, default: dt.datetime | None, bad: list[str]
) -> Iterator[tuple[str, dt.datetime, int]]:
    for index, cells in enumerate(rows, start=1):
        first = cells[0] if cells else ""
        if not any(cells):
            continue
        if index == 1 and first.lower() in HEADERS:
            continue
        number = normalize_mobile(excel_number(first))
        when = _when(cells[1] if len(cells) > 1 else "", now, default)
        if number is None or when is None:
            if len(bad) < BAD_SHOWN:
                bad.append(f"{index}: {', '.join(cells[:2])}"[:60])
            elif len(bad) == BAD_SHOWN:
                bad.append("…")
            continue
        yield number, when, index


def _when(value: str, now: dt.datetime, default: dt.datetime | None) -> dt.datetime | None:
    """The time in the second column: ``default`` when empty; ``None`` when it is no date
    or time, or later than now. A date alone is its start; a time without a zone is in
    the site's."""
    if not value:
        return default if default is None or default <= now else None
    text = value.strip().replace("/", "-")
    try:
        moment = parse_datetime(text)
        if moment is None:
            day = parse_date(text)
            moment = dt.datetime.combine(day, dt.time()) if day else None
    except ValueError:
        return None
    if moment is None:
        return None
    if settings.USE_TZ and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    elif not settings.USE_TZ and timezone.is_aware(moment):
        moment = timezone.make_naive(moment)
    return moment if moment <= now else None
