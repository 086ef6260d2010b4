"""Staging: read the uploaded spreadsheet, find the number column and check each row.

:func:`stage` does it in one transaction, in the caller's process: a refused file
leaves the campaign's recipients as they were. :mod:`.checking` does the same in the
background for a large file, batch by batch, from :func:`prepare` and
:meth:`Staging.batches`.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from django.db import transaction
from django.utils.translation import gettext as _

from ..client.validation import (
    MAX_CONTENT_LENGTH,
    normalize_mobile,
    normalize_params,
    placeholders,
    render_template,
    validate_content,
)
from ..conf import xunchen_settings
from ..exceptions import XunchenValidationError
from ..models import Campaign, CampaignRecipient
from ..models.consent import MARKETING
from ..sending import admission
from .spreadsheets import excel_number, read_rows, shortened
from .text import CampaignError, check_campaign, text_of

State = Campaign.State
Problem = CampaignRecipient.Problem


#: Recipients written per INSERT while staging.
STAGE_BATCH = 2000
#: The first rows looked at to find the header and the number column.
LOOKAHEAD = 20
HEADER_WORDS = ("手机", "电话", "号码", "mobile", "phone", "number", "tel")


@dataclass
class Mapping:
    """Where the number and each parameter are: 1-based column numbers."""

    mobile: int
    params: dict[int, int] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    header_row: int = 0

    # A property only calls a method: the mutation run skips decorated functions.
    @property
    def width(self) -> int | None:
        """Columns a row may fill: those of the header and those mapped (no header: any)."""
        return self._width()

    def _width(self) -> int | None:
        if not self.header:
            return None
        return max(self.mobile, *self.params.values(), len(self.header))


def _looks_like_mobile(cell: str) -> bool:
    return bool(normalize_mobile(excel_number(cell))) or shortened(cell)


def find_mapping(
    rows: list[list[str]],
    needed: list[int],
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
) -> Mapping:
    """The header and the columns, from the first rows: the header is the last non-blank
    row above the first row with a number in it (title rows above it are skipped); the
    number column is the one headed like 手机/号码/mobile, else the first with a number;
    ``@n@`` is the column headed ``n``, ``@n@``, ``参数n`` or ``paramn``, else the next
    remaining column in order. ``mobile_column`` and ``param_columns`` (``{n: column}``)
    are the staff's choices, which win."""
    chosen = dict(param_columns or {})
    unknown = sorted(set(chosen) - set(needed))
    if unknown:
        raise CampaignError(
            _("The text has no %(names)s.") % {"names": ", ".join(f"@{n}@" for n in unknown)}
        )
    first_data = next(
        (i for i, row in enumerate(rows) if any(_looks_like_mobile(c) for c in row)), None
    )
    if first_data is None:
        raise CampaignError(_("No mobile number in the first %(n)d rows.") % {"n": len(rows)})
    header_index = next(
        (i for i in range(first_data - 1, -1, -1) if any(rows[i])),
        None,
    )
    header = rows[header_index] if header_index is not None else []
    mobile = mobile_column
    if mobile is None:
        for index, name in enumerate(header, start=1):
            if any(word in name.lower() for word in HEADER_WORDS):
                mobile = index
                break
    if mobile is None:
        mobile = 1 + next(i for i, c in enumerate(rows[first_data]) if _looks_like_mobile(c))
    params: dict[int, int] = dict(chosen)
    for index, name in enumerate(header, start=1):
        key = name.lower().strip("@ ").removeprefix("参数").removeprefix("变量")
        key = key.removeprefix("param").strip()
        taken = index == mobile or index in params.values()
        if key.isdigit() and int(key) in needed and int(key) not in params and not taken:
            params[int(key)] = index
    width = max(len(rows[first_data]), len(header))
    free = [c for c in range(1, width + 1) if c != mobile and c not in params.values()]
    for number in needed:
        if number not in params and free:
            params[number] = free.pop(0)
    return Mapping(mobile, params, header, (header_index + 1) if header_index is not None else 0)


class FirstRows:
    """The row on which each number was first seen, for the rows that repeat one.

    An open-addressing table of 64-bit words, each a number and its row packed, probed
    as CPython probes a dict: 16 MB for 1,000,000 numbers, where a dict of them takes
    about 120 MB (a check in the background stays under 300 MB with it)."""

    ROW_BITS = 28  # rows below 268,435,456; a mainland number fits in the other 36 bits

    def __init__(self) -> None:
        self.slots = array("Q", bytes(8 * 1024))
        self.count = 0

    def first(self, number: int, row: int) -> int | None:
        """The row ``number`` was seen on first, or ``None`` if this is its first row
        (``row`` is then remembered for it)."""
        slot = self._find(self.slots, number)
        found = self.slots[slot]
        if found:
            return found & ((1 << self.ROW_BITS) - 1)
        if row >> self.ROW_BITS:
            raise OverflowError(f"row {row} is beyond the table's {self.ROW_BITS} bits")
        self.slots[slot] = number << self.ROW_BITS | row
        self.count += 1
        if 2 * self.count > len(self.slots):
            self._grow()
        return None

    def _find(self, slots: array, number: int) -> int:
        """The slot holding ``number``, else the empty slot where it goes."""
        mask = len(slots) - 1
        index = perturb = number
        while True:
            index &= mask
            held = slots[index]
            if not held or held >> self.ROW_BITS == number:
                return index
            perturb >>= 5
            index = 5 * index + 1 + perturb

    def _grow(self) -> None:
        old, self.slots = self.slots, array("Q", bytes(16 * len(self.slots)))
        for held in old:
            if held:
                self.slots[self._find(self.slots, held >> self.ROW_BITS)] = held


@dataclass
class Checker:
    """Checks one row at a time; remembers the numbers seen."""

    campaign: Campaign
    body: str
    needed: list[int]
    words: list[str]
    seen: FirstRows = field(default_factory=FirstRows)
    fixed_parts: int | None = None

    def __post_init__(self) -> None:
        self.encoding = xunchen_settings(self.campaign.account)["ENCODING"]
        self.count_parts = admission.part_counter(self.campaign.account)

    def check(self, number: int, cells: list[str], mapping: Mapping) -> CampaignRecipient:
        raw = cells[mapping.mobile - 1] if len(cells) >= mapping.mobile else ""
        row = CampaignRecipient(campaign=self.campaign, row=number, mobile=raw[:40])
        values = {
            str(n): (cells[c - 1] if len(cells) >= c else "") for n, c in mapping.params.items()
        }
        row.params = values
        mobile = normalize_mobile(excel_number(raw)) if raw else None
        if mobile is None:
            if shortened(raw):
                return self._bad(row, Problem.SHORTENED, value=raw)
            return self._bad(row, Problem.INVALID, value=raw or "—")
        row.mobile = mobile
        first = self.seen.first(int(mobile), number)
        if first is not None:
            return self._bad(row, Problem.DUPLICATE, row=first)
        width = mapping.width
        if width is not None and any(cells[width:]):
            return self._bad(row, Problem.EXTRA, count=len([c for c in cells if c]), width=width)
        missing = [f"@{n}@" for n in self.needed if not values.get(str(n))]
        if missing:
            return self._bad(row, Problem.MISSING, names=", ".join(missing))
        if self.fixed_parts is not None:
            row.parts = self.fixed_parts
            return row
        text = ""
        try:
            text = self.render(values, validate=False)
            validate_content(text, self.encoding)
        except XunchenValidationError as exc:
            if len(text) > MAX_CONTENT_LENGTH:
                return self._bad(row, Problem.TOO_LONG, length=len(text), limit=MAX_CONTENT_LENGTH)
            return self._bad(row, Problem.BAD_TEXT, error=str(exc))
        found = admission.blocked_words(text, self.campaign.kind, self.campaign.account, self.words)
        if found:
            return self._bad(row, Problem.BLOCKED, words=", ".join(found))
        row.parts = self.count_parts(text)
        return row

    def render(self, values: dict[str, str], *, validate: bool = True) -> str:
        """The text the handset shows for these parameter values (without signature)."""
        pairs = normalize_params({n: values[str(n)] for n in self.needed}) if self.needed else ()
        text = render_template(self.body, pairs)
        if not self.campaign.template_id:
            text = admission.text(text, self.campaign.kind, self.campaign.account)
        return validate_content(text, self.encoding) if validate else text

    @staticmethod
    def _bad(recipient: CampaignRecipient, problem: str, /, **values: object) -> CampaignRecipient:
        """``recipient`` with its problem and the values of its detail (texts cut at
        200 characters), shown in the reader's language
        (:meth:`~django_xunchen.models.CampaignRecipient.detail_text`)."""
        recipient.problem = problem
        recipient.detail_values = {
            name: value[:200] if isinstance(value, str) else value for name, value in values.items()
        }
        return recipient


@dataclass
class Totals:
    """What the staged rows add up to."""

    rows: int = 0
    valid: int = 0
    parts: int = 0

    def add(self, batch: list[CampaignRecipient]) -> None:
        good = [r for r in batch if not r.problem]
        self.rows += len(batch)
        self.valid += len(good)
        self.parts += sum(r.parts for r in good)


@dataclass
class Staging:
    """A file opened for staging: the columns found and the checker of its rows."""

    campaign: Campaign
    name: str
    mapping: Mapping
    checker: Checker
    rows: Iterator[tuple[int, list[str]]]
    source: Iterator[list[str]]
    #: The rows read so far, blank ones and the header included.
    read: int = 0

    def close(self) -> None:
        """Let go of the file (openpyxl's hold on it, the CSV reader's wrapper)."""
        getattr(self.source, "close", lambda: None)()

    def batches(self) -> Iterator[tuple[int, list[CampaignRecipient]]]:
        """The checked rows, unsaved, :data:`STAGE_BATCH` at a time, suppressed numbers
        and numbers without the consent the account requires marked, each batch with the
        number of the last row read. Raises :class:`~.spreadsheets.SpreadsheetError` at a
        row the file cannot give."""
        batch: list[CampaignRecipient] = []
        for number, cells in self.rows:
            self.read = number
            if not any(cells):
                continue
            batch.append(self.checker.check(number, cells, self.mapping))
            if len(batch) >= STAGE_BATCH:
                yield number, _admitted(batch, self.campaign)
                batch = []
        yield self.read, _admitted(batch, self.campaign)

    def finish(self, totals: Totals) -> dict[str, object]:
        """The campaign's fields once every row is staged."""
        return {
            "rows": totals.rows,
            "valid": totals.valid,
            "total_parts": totals.parts,
            "mobile_column": self.mapping.mobile,
            "param_columns": {str(n): c for n, c in self.mapping.params.items()},
            "header": self.mapping.header,
            "file_name": self.name[:255],
            "file_rows": self.read,
            "checked_rows": self.read,
            "check_error": "",
        }


def prepare(
    campaign: Campaign,
    file: IO[bytes],
    name: str,
    *,
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
) -> Staging:
    """Check the campaign and the file as a whole (:func:`~.spreadsheets.read_rows`
    does), read the first rows and find the columns. Raises :class:`CampaignError` or
    :class:`~.spreadsheets.SpreadsheetError` for a file or a campaign it cannot use;
    reads no row past the first :data:`LOOKAHEAD`."""
    check_campaign(campaign)
    body = text_of(campaign)
    needed = placeholders(body)
    words = admission.learned_words(campaign.account)
    rows = read_rows(file, name)
    try:
        head = list(itertools.islice(rows, LOOKAHEAD))
        mapping = find_mapping(head, needed, mobile_column, param_columns)
        checker = Checker(campaign, body, needed, words)
        if not needed:
            text = checker.render({})
            checker.fixed_parts = checker.count_parts(text)
            blocked = admission.blocked_words(text, campaign.kind, campaign.account, words)
            if blocked:
                raise CampaignError(
                    _("The text has words the gateway refused before: %(words)s")
                    % {"words": ", ".join(blocked)}
                )
    except BaseException:
        getattr(rows, "close", lambda: None)()  # while the file is still open
        raise

    def numbered() -> Iterator[tuple[int, list[str]]]:
        for index, cells in enumerate(head, start=1):
            if index > mapping.header_row:
                yield index, cells
        yield from enumerate(rows, start=len(head) + 1)

    return Staging(campaign, name, mapping, checker, numbered(), rows)


def stage(
    campaign: Campaign,
    file: IO[bytes],
    name: str,
    *,
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
) -> Campaign:
    """Read ``file``, check each row and store the campaign's recipients (replacing any
    earlier ones), in one transaction and in this process. Raises :class:`CampaignError`
    or :class:`~.spreadsheets.SpreadsheetError` for a file or campaign it cannot use,
    leaving the recipients as they were."""
    if campaign.state != State.DRAFT:
        raise CampaignError(_("Only a draft campaign takes a new file."))
    check_campaign(campaign)
    staging = prepare(
        campaign, file, name, mobile_column=mobile_column, param_columns=param_columns
    )
    try:
        with transaction.atomic():
            campaign.recipients.all().delete()
            totals = Totals()
            for _number, batch in staging.batches():
                store(batch)
                totals.add(batch)
            for field_name, value in staging.finish(totals).items():
                setattr(campaign, field_name, value)
            campaign.save()
    finally:
        staging.close()
    return campaign


def store(batch: list[CampaignRecipient]) -> None:
    CampaignRecipient.objects.bulk_create(batch)


def _admitted(batch: list[CampaignRecipient], campaign: Campaign) -> list[CampaignRecipient]:
    """``batch``, its numbers on the suppression list, or without the consent the
    campaign's account requires, marked (the admission's rules, as at write)."""
    if not batch:
        return batch
    numbers = [r.mobile for r in batch if not r.problem]
    listed = admission.suppressed(numbers, campaign.kind)
    unconsented = admission.without_consent(numbers, campaign.kind, campaign.account)
    for row in batch:
        if row.problem:
            continue
        entry = listed.get(row.mobile)
        if entry is not None:
            row.problem = Problem.SUPPRESSED
            row.detail_values = {"source": entry.source}
        elif row.mobile in unconsented:
            row.problem = Problem.NO_CONSENT
            row.detail_values = {"scope": MARKETING}
    return batch
