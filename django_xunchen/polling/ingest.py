"""Ingest a journal entry exactly once: store its records, match them and mark it done,
in one transaction."""

from __future__ import annotations

import logging
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from ..client.parsing import RecordScan
from ..client.types import DeliveryReport, InboundSMS, RawResponse
from ..exceptions import GatewayError
from ..models import PollJournalEntry
from ..outcomes import recovery
from .accounts import GatewayAccount
from .journal import _note_attempt
from .replies import _store_inbound
from .reports import _store_reports
from .result import PollResult

logger = logging.getLogger("django_xunchen.polling")
Op = PollJournalEntry.Operation


def _ingest(
    entry: PollJournalEntry, group: GatewayAccount, result: PollResult, max_attempts: int
) -> bool:
    """Ingest one journal entry; True when it is done (or salvaged)."""
    sms_backend = group.backend
    now = timezone.now()
    PollJournalEntry.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1)
    entry.attempts += 1
    body = entry.body if isinstance(entry.body, bytes) else bytes(entry.body)
    raw = RawResponse(entry.operation, body)
    entry.body = b""  # the journal keeps it; here only the records are needed from now on
    is_reports = entry.operation == Op.REPORTS
    try:
        scan: RecordScan[Any] = (
            sms_backend.scan_reports(raw) if is_reports else sms_backend.scan_inbound(raw)
        )
        del raw, body
    except GatewayError as exc:
        # The gateway refused the query: there are no records to keep.
        PollJournalEntry.objects.filter(pk=entry.pk).update(
            state=PollJournalEntry.State.DONE, records=0, ingested_at=now, error=str(exc)
        )
        logger.error("%s", exc)
        result.errors.append(str(exc))
        _note_attempt(entry.account, entry.operation, entry.fetched_at, str(exc))
        return True
    except Exception as exc:
        _failed(entry, exc, result, "cannot be parsed", max_attempts)
        return False
    records = scan.records
    salvaged = not (scan.complete and entry.complete)
    if salvaged:
        state = PollJournalEntry.State.SALVAGED
        note = scan.error or "the answer broke off"
        error = (
            f"{note}. {len(records)} complete records were recovered; any after the break "
            "are lost (the gateway returns each record once only)."
        )
    else:
        state, error = PollJournalEntry.State.DONE, ""
    try:
        with transaction.atomic():
            if is_reports:
                recovered = recovery.Recovered()
                stored, matched = _store_reports(
                    entry, cast(list[DeliveryReport], records), group.names, recovered
                )
                result.reports += stored
                result.reports_matched += matched
                # Reports left ambiguous are counted by the orphan pass (_rematch_orphans).
                result.requests_recovered += recovered.requests
            else:
                stored, matched = _store_inbound(
                    entry,
                    cast(list[InboundSMS], records),
                    group.names,
                    sms_backend.settings["SENDER_NUMBER"],
                )
                result.inbound += stored
                result.inbound_matched += matched
            PollJournalEntry.objects.filter(pk=entry.pk).update(
                state=state, records=len(records), ingested_at=timezone.now(), error=error
            )
            if entry.complete:
                _note_attempt(entry.account, entry.operation, entry.fetched_at, success=True)
    except Exception as exc:
        _failed(entry, exc, result, "could not be stored", max_attempts)
        return False
    if salvaged and entry.complete:
        message = f"journal entry {entry.pk} ({entry.operation}) is not well-formed: {error}"
        logger.error(message)
        result.errors.append(message)
    return True


def _failed(
    entry: PollJournalEntry, exc: Exception, result: PollResult, what: str, max_attempts: int
) -> None:
    message = f"journal entry {entry.pk} ({entry.operation}) {what}: {type(exc).__name__}: {exc}"
    logger.exception(message)
    values: dict[str, Any] = {"error": message[:2000]}
    if entry.attempts >= max_attempts:
        values["state"] = PollJournalEntry.State.SET_ASIDE
        message += f"; set aside after {entry.attempts} attempts: see the poll journal in the admin"
        result.set_aside += 1
    PollJournalEntry.objects.filter(pk=entry.pk).update(**values)
    result.errors.append(message)
