"""The erasure of one person's data, in short batches.

- Messages stay, without the number, the text, the parameters and the metadata: the
  dashboard's figures of past days count them, and a recount must find them.
- Reports, replies, code requests, throttle entries and consent grants are deleted;
  campaign rows lose the number and their parameters.
- A refusal survives: the suppression entry and the consent withdrawals stay as they
  are, since a number that refused must never get marketing again.
- Any other mention of the number (another message's text, a note) is masked, and so
  are the raw poll answers already ingested. An answer not ingested yet is ingested
  first (one :func:`~django_xunchen.polling.run.poll` without fetching); while one still
  is not, or a campaign file holding the number is being checked, nothing is erased and
  the result says what it waits for.
- What stays of the person is an :class:`~django_xunchen.models.Erasure`: an HMAC of the
  number under the app's key, the time and who asked.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.db.models import Q

from ..client.validation import validate_mobiles
from ..models import (
    CampaignFileChunk,
    CampaignRecipient,
    Consent,
    Erasure,
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    Suppression,
    ThrottleBucket,
    ThrottleEvent,
    VerificationCode,
)
from ..polling.run import poll
from ..verification.codes import app_key
from .holdings import app_models, binary_columns, mentioning, text_columns, with_binary

#: Rows changed per statement and transaction.
BATCH = 500
MASK = "*" * 11
INGESTED = (PollJournalEntry.State.DONE, PollJournalEntry.State.SALVAGED)


@dataclass
class Erased:
    """What :func:`erase_person` did (``counts``: rows per table and what became of
    them), or why it must wait (``waiting``, and nothing was erased)."""

    mobile: str
    counts: dict[str, int] = field(default_factory=dict)
    waiting: str = ""
    erasure: Erasure | None = None

    @property
    def done(self) -> bool:
        return not self.waiting


def digest(mobile: str) -> str:
    """The keyed HMAC an :class:`~django_xunchen.models.Erasure` keeps of a number."""
    (number,) = validate_mobiles(mobile)
    return hmac.new(app_key(), b"erasure:" + number.encode(), hashlib.sha256).hexdigest()


def erasures_of(mobile: str) -> models.QuerySet[Erasure]:
    """The erasures of ``mobile``: whoever has the number (and the key) can check."""
    return Erasure.objects.filter(digest=digest(mobile))


def erase_person(mobile: str, *, requested_by: Any = None, by_name: str = "") -> Erased:
    """Erase what the app holds on ``mobile`` (see the module docstring)."""
    (number,) = validate_mobiles(mobile)
    result = Erased(number)
    result.waiting = _waiting_for(number)
    if result.waiting:
        return result
    counts = result.counts
    _batched(counts, "message (anonymised)", _own(Message, number), _anonymise_message)
    _batched(
        counts, "campaignrecipient (anonymised)", _own(CampaignRecipient, number), _anonymise_row
    )
    for model in (Report, InboundMessage, VerificationCode, ThrottleEvent):
        _deleted(counts, model, _own(model, number))
    _deleted(counts, ThrottleBucket, ThrottleBucket.objects.filter(key=f"mobile:{number}"))
    _deleted(counts, Consent, Consent.objects.filter(mobile=number, granted=True))
    _mask_mentions(counts, number)
    _mask_bodies(counts, number)
    _mask_admin_log(counts, number)
    name = by_name or (requested_by.get_username() if requested_by is not None else "")
    staff = requested_by if getattr(requested_by, "pk", None) is not None else None
    result.erasure = Erasure.objects.create(
        digest=digest(number), requested_by=staff, requested_by_name=name[:150], counts=counts
    )
    return result


def _waiting_for(number: str) -> str:
    """Why the erasure cannot run yet, or ``""``."""
    if _pending_with(number):
        poll(reports=False, inbound=False)  # ingests what is journaled, fetches nothing
    left = _pending_with(number)
    if left:
        return f"{left} raw poll answer(s) holding the number are not ingested yet"
    if any(True for _row in with_binary(CampaignFileChunk, number)):
        return "a campaign file holding the number is being checked"
    return ""


def _pending_with(number: str) -> int:
    entries = PollJournalEntry.objects.exclude(state__in=INGESTED)
    needle = number.encode()
    return sum(1 for e in entries.iterator() if needle in bytes(e.body or b""))


def _own(model: type[models.Model], number: str) -> models.QuerySet:
    """The rows of ``model`` that belong to ``number`` (the gateway may write a report's
    or a reply's number with 86 in front)."""
    return model._default_manager.filter(mobile__in=[number, f"86{number}", f"+86{number}"])


def _batched(counts: dict[str, int], label: str, rows: models.QuerySet, change) -> None:
    done = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            done += change(rows.model._default_manager.filter(pk__in=ids))
    if done:
        counts[label] = done


def _anonymise_message(rows: models.QuerySet) -> int:
    return rows.update(mobile="", content="", params={}, metadata={}, error_message="")


def _anonymise_row(rows: models.QuerySet) -> int:
    return rows.update(mobile="", params={}, detail="", detail_values={})


def _deleted(counts: dict[str, int], model: type[models.Model], rows: models.QuerySet) -> None:
    done = 0
    while ids := list(rows.order_by("pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            _total, by_model = model._default_manager.filter(pk__in=ids).delete()
            done += by_model.get(model._meta.label, 0)
    if done:
        counts[f"{model._meta.model_name} (deleted)"] = done


def _kept(model: type[models.Model], number: str) -> Q:
    """The refusal that stays as it is: the number's suppression entry and its consent
    withdrawals."""
    if model is Suppression:
        return Q(mobile=number)
    if model is Consent:
        return Q(mobile=number, granted=False)
    return Q(pk__in=[])


def _mask_mentions(counts: dict[str, int], number: str) -> None:
    """The number masked wherever else a text or JSON column holds it."""
    for model in app_models():
        columns = text_columns(model)
        rows = mentioning(model, number).exclude(_kept(model, number))
        done = 0
        for row in rows.iterator(chunk_size=BATCH):
            changed = []
            for column in columns:
                value = getattr(row, column.attname)
                masked = _masked(value, number)
                if masked is not value:
                    setattr(row, column.attname, masked)
                    changed.append(column.attname)
            if changed:
                model._default_manager.filter(pk=row.pk).update(
                    **{c: getattr(row, c) for c in changed}
                )
                done += 1
        if done:
            counts[f"{model._meta.model_name} (masked)"] = done


def _masked(value: Any, number: str) -> Any:
    if isinstance(value, str):
        return value.replace(number, MASK) if number in value else value
    if isinstance(value, dict):
        new = {k: _masked(v, number) for k, v in value.items()}
        return new if any(new[k] is not value[k] for k in value) else value
    if isinstance(value, list):
        new_list = [_masked(v, number) for v in value]
        return new_list if any(a is not b for a, b in zip(new_list, value, strict=True)) else value
    return value


def _mask_bodies(counts: dict[str, int], number: str) -> None:
    """The number masked in the raw poll answers already ingested."""
    needle, mask = number.encode(), MASK.encode()
    for model in app_models():
        columns = binary_columns(model)
        done = 0
        for row in with_binary(model, number):
            values = {c.attname: bytes(getattr(row, c.attname) or b"") for c in columns}
            model._default_manager.filter(pk=row.pk).update(
                **{name: value.replace(needle, mask) for name, value in values.items()}
            )
            done += 1
        if done:
            counts[f"{model._meta.model_name} (masked)"] = done


def _mask_admin_log(counts: dict[str, int], number: str) -> None:
    """The number masked in Django's admin log (a suppression or consent entry added in
    the admin is named by its number there)."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import LogEntry

    done = 0
    rows = LogEntry.objects.filter(
        Q(object_repr__contains=number) | Q(change_message__contains=number)
    )
    for entry in rows.iterator(chunk_size=BATCH):
        LogEntry.objects.filter(pk=entry.pk).update(
            object_repr=entry.object_repr.replace(number, MASK),
            change_message=entry.change_message.replace(number, MASK),
        )
        done += 1
    if done:
        counts["logentry (masked)"] = done
