"""Campaigns: a spreadsheet of numbers (and a column per ``@n@``) sent as one campaign.

The life of a campaign, each step callable from any process (the admin drives them):

1. :func:`stage` reads the file row by row (:mod:`.spreadsheets`), maps its columns,
   checks every row and stores one :class:`~.models.CampaignRecipient` per row, with
   its problem if it has one. Nothing is sent. Staging again replaces the rows.
2. :func:`estimate` says what the valid rows cost, and the balance after.
3. :func:`confirm` writes a ``queued`` Message per valid row (held until ``send_at`` when
   scheduled, so that a cancel still applies) and hands them to background sending.
4. :func:`pause`, :func:`resume`, :func:`cancel`: the campaign's messages not yet claimed
   are held, released, or ``cancelled``. A row is claimed only while ``queued``, so
   nothing of a cancelled campaign is submitted after the cancel commits.
5. :func:`progress` counts its messages by status and marks the campaign ``done``.

A text with parameters differs per row, and the gateway takes one text per request: a
merged campaign costs one request per distinct text, a plain one one per 100 numbers.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from django.db import transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from . import admission, policy, rollup
from .api import get_balance
from .bulk import insert_messages
from .client.validation import (
    MAX_CONTENT_LENGTH,
    normalize_mobile,
    normalize_params,
    placeholders,
    render_template,
    validate_content,
)
from .conf import xunchen_settings
from .db import to_db_datetime
from .dispatch import Backends, dispatch
from .exceptions import XunchenValidationError
from .models import Campaign, CampaignRecipient, Message
from .sending import clone_for
from .spreadsheets import excel_number, read_rows, shortened
from .tasks import enqueue_send

State = Campaign.State
Problem = CampaignRecipient.Problem
#: Recipients written per INSERT while staging.
STAGE_BATCH = 2000
#: Messages built and written at a time by :func:`confirm`.
CONFIRM_BATCH = 10000
#: The first rows looked at to find the header and the number column.
LOOKAHEAD = 20
HEADER_WORDS = ("手机", "电话", "号码", "mobile", "phone", "number", "tel")
#: ``hold_until`` of a paused campaign's messages: never, until it is resumed.
PAUSED = dt.datetime(9999, 1, 1, tzinfo=dt.timezone.utc)
CANCELLED_TEXT = "The campaign was cancelled before this message was sent."


class CampaignError(XunchenValidationError):
    """The campaign cannot be staged, sent or changed as asked; the message says why."""


@dataclass
class Mapping:
    """Where the number and each parameter are: 1-based column numbers."""

    mobile: int
    params: dict[int, int] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    header_row: int = 0

    @property
    def width(self) -> int | None:
        """Columns a row may fill: those of the header and those mapped (no header: any)."""
        if not self.header:
            return None
        return max(self.mobile, *self.params.values(), len(self.header))


# --------------------------------------------------------------------------- staging


def text_of(campaign: Campaign) -> str:
    """The body every row's text is made from: the template's, or the campaign's own."""
    if campaign.template_id:
        return campaign.template.body
    return campaign.content


def check_campaign(campaign: Campaign) -> None:
    """What must hold before any row is read."""
    if campaign.template_id:
        template = campaign.template
        if not template.is_active:
            raise CampaignError(
                _("The template %(id)s is not active.") % {"id": template.template_id}
            )
        if template.account != campaign.account:
            raise CampaignError(
                _("The template belongs to account %(account)s.") % {"account": template.account}
            )
        admission.text(template.body, campaign.kind, campaign.account, template)
    elif not campaign.content.strip():
        raise CampaignError(_("Enter the text, or choose a template."))


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


@dataclass
class Checker:
    """Checks one row at a time; remembers the numbers seen."""

    campaign: Campaign
    body: str
    needed: list[int]
    words: list[str]
    seen: dict[str, int] = field(default_factory=dict)
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
                return self._bad(
                    row,
                    Problem.SHORTENED,
                    _(
                        "Excel shortened the number to %(value)s: format the column as text and "
                        "save the file again."
                    )
                    % {"value": raw},
                )
            return self._bad(
                row,
                Problem.INVALID,
                _("Not a mainland China mobile number: %(value)s") % {"value": raw or "—"},
            )
        row.mobile = mobile
        if mobile in self.seen:
            return self._bad(
                row,
                Problem.DUPLICATE,
                _("Same number as row %(row)d.") % {"row": self.seen[mobile]},
            )
        self.seen[mobile] = number
        width = mapping.width
        if width is not None and any(cells[width:]):
            return self._bad(
                row,
                Problem.EXTRA,
                _("The row has %(count)d values, the header %(width)d: a stray comma?")
                % {"count": len([c for c in cells if c]), "width": width},
            )
        missing = [f"@{n}@" for n in self.needed if not values.get(str(n))]
        if missing:
            return self._bad(
                row, Problem.MISSING, _("No value for %(names)s.") % {"names": ", ".join(missing)}
            )
        if self.fixed_parts is not None:
            row.parts = self.fixed_parts
            return row
        problem = Problem.BAD_TEXT
        try:
            text = self.render(values, validate=False)
            if len(text) > MAX_CONTENT_LENGTH:
                problem = Problem.TOO_LONG
            validate_content(text, self.encoding)
        except XunchenValidationError as exc:
            return self._bad(row, problem, str(exc))
        found = admission.blocked_words(text, self.campaign.kind, self.campaign.account, self.words)
        if found:
            return self._bad(
                row,
                Problem.BLOCKED,
                _("Refused before by the gateway: %(words)s") % {"words": ", ".join(found)},
            )
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
    def _bad(row: CampaignRecipient, problem: str, detail: str) -> CampaignRecipient:
        row.problem, row.detail = problem, detail[:200]
        return row


def stage(
    campaign: Campaign,
    file: IO[bytes],
    name: str,
    *,
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
) -> Campaign:
    """Read ``file``, check each row and store the campaign's recipients (replacing any
    earlier ones). Raises :class:`CampaignError` or
    :class:`~.spreadsheets.SpreadsheetError` for a file or campaign it cannot use."""
    if campaign.state != State.DRAFT:
        raise CampaignError(_("Only a draft campaign takes a new file."))
    check_campaign(campaign)
    body = text_of(campaign)
    needed = placeholders(body)
    words = admission.learned_words(campaign.account)
    rows = read_rows(file, name)
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

    def numbered() -> Iterator[tuple[int, list[str]]]:
        for index, cells in enumerate(head, start=1):
            if index > mapping.header_row:
                yield index, cells
        yield from enumerate(rows, start=len(head) + 1)

    with transaction.atomic():
        campaign.recipients.all().delete()
        total = valid = parts = 0
        batch: list[CampaignRecipient] = []
        for number, cells in numbered():
            if not any(cells):
                continue
            batch.append(checker.check(number, cells, mapping))
            if len(batch) >= STAGE_BATCH:
                v, p = _store(batch, campaign.kind)
                total, valid, parts = total + len(batch), valid + v, parts + p
                batch = []
        if batch:
            v, p = _store(batch, campaign.kind)
            total, valid, parts = total + len(batch), valid + v, parts + p
        campaign.rows, campaign.valid, campaign.total_parts = total, valid, parts
        campaign.mobile_column = mapping.mobile
        campaign.param_columns = {str(n): c for n, c in mapping.params.items()}
        campaign.header = mapping.header
        campaign.file_name = name[:255]
        campaign.save()
    return campaign


def _store(batch: list[CampaignRecipient], kind: str) -> tuple[int, int]:
    """Mark the suppressed numbers, insert the batch; return its valid rows and parts."""
    listed = admission.suppressed([r.mobile for r in batch if not r.problem], kind)
    for row in batch:
        entry = listed.get(row.mobile) if not row.problem else None
        if entry is not None:
            row.problem = Problem.SUPPRESSED
            row.detail = _("On the suppression list (%(source)s).") % {
                "source": entry.get_source_display()
            }
    CampaignRecipient.objects.bulk_create(batch)
    good = [r for r in batch if not r.problem]
    return len(good), sum(r.parts for r in good)


# --------------------------------------------------------------------------- estimate


@dataclass
class Estimate:
    rows: int
    valid: int
    problems: int
    parts: int
    cost: Decimal
    balance: Decimal | None
    balance_error: str = ""

    @property
    def balance_after(self) -> Decimal | None:
        return None if self.balance is None else self.balance - self.cost


def estimate(campaign: Campaign, *, with_balance: bool = True) -> Estimate:
    """The valid rows, their parts (each row's own text), the cost, and the balance."""
    cost = policy.price_per_part(campaign.account) * campaign.total_parts
    balance, error = None, ""
    if with_balance:
        try:
            balance = get_balance(account=campaign.account).amount
            balance -= policy.queued_cost(campaign.account)
        except Exception as exc:  # any gateway or network fault: shown, not raised
            error = str(exc)
    return Estimate(
        campaign.rows,
        campaign.valid,
        campaign.rows - campaign.valid,
        campaign.total_parts,
        cost,
        balance,
        error,
    )


def preview(campaign: Campaign, count: int = 5) -> list[tuple[CampaignRecipient, str]]:
    """The first valid rows with the text each handset will show, signature included."""
    body = text_of(campaign)
    checker = Checker(campaign, body, placeholders(body), [])
    signature = xunchen_settings(campaign.account)["SIGNATURE"] or ""
    rows = campaign.recipients.filter(problem="").order_by("row")[:count]
    return [(r, signature + checker.render(r.params)) for r in rows]


def problems(campaign: Campaign) -> Iterable[CampaignRecipient]:
    return campaign.recipients.exclude(problem="").order_by("row")


# --------------------------------------------------------------------------- sending


def confirm(campaign: Campaign) -> int:
    """Write the messages of a staged campaign and start it (or schedule it); returns
    how many. Runs in the background through :mod:`.tasks` when it is due."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.state != State.DRAFT:
            raise CampaignError(_("The campaign was already confirmed."))
        if not campaign.valid:
            raise CampaignError(_("The campaign has no valid rows."))
        check_campaign(campaign)
        now = timezone.now()
        later = campaign.send_at is not None and campaign.send_at > now
        created = 0
        for rows in _messages(campaign, later):
            insert_messages(rows)
            created += len(rows)
        CampaignRecipient.objects.filter(campaign=campaign, problem="").update(
            message=Subquery(
                Message.objects.filter(campaign=campaign, mobile=OuterRef("mobile")).values("pk")[
                    :1
                ]
            )
        )
        campaign.state = State.SCHEDULED if later else State.RUNNING
        campaign.started_at = None if later else now
        campaign.save(update_fields=["state", "started_at"])
        if not later:
            _enqueue(_queued(campaign).filter(hold_until__isnull=True))
    return created


def _messages(campaign: Campaign, later: bool) -> Iterator[list[Message]]:
    """The campaign's messages, unsaved, :data:`CONFIRM_BATCH` at a time (memory stays
    flat, whatever the size of the campaign)."""
    body = text_of(campaign)
    checker = Checker(campaign, body, placeholders(body), [])
    hold = campaign.send_at if later else None
    hold = admission.hold(campaign.kind, campaign.account, hold or timezone.now()) or hold
    recipients = (
        campaign.recipients.filter(problem="")
        .order_by("row")
        .values_list("mobile", "params")
        .iterator(chunk_size=CONFIRM_BATCH)
    )
    fixed_text = checker.render({}) if not checker.needed else None
    fixed_parts = checker.count_parts(fixed_text) if fixed_text is not None else None
    while chunk := list(itertools.islice(recipients, CONFIRM_BATCH)):
        prototype = Message(
            mobile=chunk[0][0],
            content=fixed_text if fixed_text is not None else "",
            template=campaign.template,
            kind=campaign.kind,
            account=campaign.account,
            campaign=campaign,
            hold_until=to_db_datetime(hold),
            parts=fixed_parts or 1,
            tags=[f"campaign:{campaign.pk}"],
            metadata={"campaign": campaign.pk},
        )
        rows = clone_for(prototype, [mobile for mobile, _ in chunk])
        if fixed_text is None:
            for row, (_mobile, params) in zip(rows, chunk, strict=True):
                row.content = checker.render(params)
                if campaign.template_id:
                    row.params = {str(n): params[str(n)] for n in checker.needed}
                row.parts = checker.count_parts(row.content)
        admission.screen(rows)
        yield rows


def _enqueue(messages: QuerySet[Message]) -> None:
    """Hand ``messages`` to background sending after the commit; without Django Tasks
    (Django 5.2 without the django-tasks backport) they are sent in this process after
    the commit instead."""
    try:
        enqueue_send(list(messages.only("pk", "kind", "status")))
    except ImportError:
        transaction.on_commit(
            lambda: dispatch(list(messages.select_related("template")), Backends())
        )


def _queued(campaign: Campaign):
    return Message.objects.filter(campaign=campaign, status=Message.Status.QUEUED)


def pause(campaign: Campaign) -> int:
    """Hold the messages not yet claimed; returns how many were held."""
    with transaction.atomic():
        campaign = _locked(
            campaign, (State.SCHEDULED, State.RUNNING), _("A %(state)s campaign cannot be paused.")
        )
        held = _queued(campaign).update(
            hold_until=to_db_datetime(PAUSED), updated_at=timezone.now()
        )
        campaign.state = State.PAUSED
        campaign.save(update_fields=["state"])
    return held


def resume(campaign: Campaign) -> int:
    """Release a paused campaign's messages (held again until ``send_at`` if that is
    still ahead) and hand them to background sending; returns how many."""
    with transaction.atomic():
        campaign = _locked(campaign, (State.PAUSED,), _("A %(state)s campaign cannot be resumed."))
        now = timezone.now()
        later = campaign.send_at is not None and campaign.send_at > now
        hold = campaign.send_at if later else None
        hold = admission.hold(campaign.kind, campaign.account, hold or now) or hold
        queued = _queued(campaign)
        count = queued.update(hold_until=to_db_datetime(hold), updated_at=now)
        campaign.state = State.SCHEDULED if later else State.RUNNING
        campaign.started_at = campaign.started_at or (None if later else now)
        campaign.save(update_fields=["state", "started_at"])
        if hold is None and count:
            _enqueue(queued)
    return count


def cancel(campaign: Campaign) -> int:
    """Cancel the messages not yet claimed (they end ``cancelled``); returns how many.
    A request already under way finishes; nothing else goes out."""
    with transaction.atomic():
        campaign = _locked(
            campaign,
            (State.DRAFT, State.SCHEDULED, State.RUNNING, State.PAUSED),
            _("A %(state)s campaign cannot be cancelled."),
        )
        now = timezone.now()
        rollup.touched_where(_queued(campaign))
        count = _queued(campaign).update(
            status=Message.Status.CANCELLED, error_message=CANCELLED_TEXT, updated_at=now
        )
        campaign.state, campaign.finished_at = State.CANCELLED, now
        campaign.save(update_fields=["state", "finished_at"])
    return count


def _locked(campaign: Campaign, states: tuple[str, ...], refusal: str) -> Campaign:
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.state not in states:
        raise CampaignError(refusal % {"state": locked.get_state_display()})
    return locked


def progress(campaign: Campaign) -> dict[str, Any]:
    """Its messages by status, and its state, brought up to date: a scheduled campaign
    whose time has come is running; a running one with nothing left is done."""
    counts = dict(
        Message.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    total = sum(counts.values())
    waiting = counts.get(Message.Status.QUEUED, 0) + counts.get(Message.Status.SENDING, 0)
    now = timezone.now()
    changed = {}
    if campaign.state == State.SCHEDULED and campaign.send_at and campaign.send_at <= now:
        changed = {"state": State.RUNNING, "started_at": now}
    running = campaign.state == State.RUNNING or changed
    if running and total and not waiting:
        changed = {"state": State.DONE, "finished_at": now}
    if changed:
        updated = Campaign.objects.filter(pk=campaign.pk, state=campaign.state).update(**changed)
        if updated:
            for name, value in changed.items():
                setattr(campaign, name, value)
    done = total - waiting
    return {
        "state": campaign.state,
        "state_label": str(campaign.get_state_display()),
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
        "counts": {status: counts.get(status, 0) for status in Message.Status.values},
    }
