"""One poll: take each account's lock, fetch, journal and ingest its answers, then prune."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import DatabaseError, connection
from django.utils import timezone

from .. import stopping
from ..campaigns.advance import advance
from ..conf import UnknownAccount, account_names, xunchen_settings
from ..models import PollJournalEntry
from ..operations import rollup
from ..outcomes import write as outcomes
from .accounts import GatewayAccount, gateway_accounts
from .fetch import AnswerKept, _fetch_and_journal, _journal_kept_answers
from .ingest import _ingest
from .locks import DatabaseLock, LockLost
from .replies import _rematch_orphans
from .result import PollResult

logger = logging.getLogger("django_xunchen.polling")
Op = PollJournalEntry.Operation


def poll(
    reports: bool = True,
    inbound: bool = True,
    *,
    force: bool = False,
    backend: str | None = None,
    account: str | None = None,
) -> PollResult:
    """Fetch and ingest delivery reports and replies of every gateway account (or of
    ``account`` only); see the module docstring.

    Returns a :class:`PollResult`. Each gateway account has its own lock: if another
    poll holds it, that account is not fetched and its ``locked_by`` names the holder.
    Unless ``force``, an operation fetched less than ``POLL_INTERVAL`` seconds ago is
    skipped. One account's failure does not stop the others.
    """
    conf = xunchen_settings()
    broken: dict[str, str] = {}
    groups = gateway_accounts(backend, broken)
    if account is not None:
        if account not in account_names():
            raise UnknownAccount(f"no SMS account {account!r}")
        groups = [g for g in groups if account in g.names]
        broken = {n: e for n, e in broken.items() if n == account}
    if any(g.backend.sends_externally for g in groups) and connection.in_atomic_block:
        raise RuntimeError(
            "poll() must not run inside a transaction: each raw response has to be "
            "committed before it is parsed"
        )
    total = PollResult(names=[n for g in groups for n in g.names])
    total.spooled = outcomes.apply_spool()
    for group in groups:
        if stopping.requested():
            break
        part = PollResult(names=group.names)
        try:
            _poll_account(group, part, reports, inbound, force, conf)
        except AnswerKept as exc:
            part.errors.append(str(exc))
            total.add(group.name, part, several=len(groups) + len(broken) > 1)
            return total
        except DatabaseError:
            raise
        except Exception as exc:
            logger.exception("polling account %r failed", group.name)
            part.errors.append(f"{type(exc).__name__}: {exc}")
        total.add(group.name, part, several=len(groups) + len(broken) > 1)
    for name, error in broken.items():
        logger.error("account %r cannot be polled: %s", name, error)
        total.add(name, PollResult(names=[name], errors=[error]), len(groups) + len(broken) > 1)
    _prune(conf["JOURNAL_RETENTION_DAYS"])
    rollup.maintain()
    rollup.settle()
    advance()
    return total


def _poll_account(
    group: GatewayAccount,
    result: PollResult,
    reports: bool,
    inbound: bool,
    force: bool,
    conf: dict[str, Any],
) -> None:
    sms_backend = group.backend
    lock = DatabaseLock(group.lock_name, timeout=conf["LOCK_TIMEOUT"])
    if not lock.acquire():
        holder = lock.holder()
        result.locked_by = holder.owner if holder else "another process"
        return
    interval = sms_backend.settings["POLL_INTERVAL"]
    try:
        with sms_backend:
            _journal_kept_answers(group, result)
            pending = PollJournalEntry.objects.filter(
                state=PollJournalEntry.State.PENDING, account__in=group.names
            )
            for entry in pending.order_by("pk"):
                if _ingest(entry, group, result, conf["JOURNAL_MAX_ATTEMPTS"]):
                    result.recovered += 1
                lock.refresh()
            wanted = [(Op.REPORTS, reports), (Op.INBOUND, inbound)]
            for operation, enabled in wanted:
                if not enabled or stopping.requested():
                    continue
                if not force and _too_soon(group.names, operation, interval):
                    result.skipped.append(str(Op(operation).label))
                    continue
                lock.refresh()
                fetched = _fetch_and_journal(operation, group, result)
                if fetched is not None:
                    _ingest(fetched, group, result, conf["JOURNAL_MAX_ATTEMPTS"])
            if reports and not stopping.requested():
                lock.refresh()
                _rematch_orphans(group.names, conf["MATCH_WINDOW_DAYS"], result)
    except LockLost as exc:
        logger.error("poll of account %r stopped: %s", group.name, exc)
        result.errors.append(f"stopped: {exc}")
    finally:
        try:
            lock.release()
        except DatabaseError as exc:
            logger.error(
                "the poll lock of account %r could not be released (%s); the next poll on "
                "this host takes it over, as this process will be gone",
                group.name,
                exc,
            )


def _too_soon(names: list[str], operation: str, interval: float) -> bool:
    last = (
        PollJournalEntry.objects.filter(account__in=names, operation=operation)
        .order_by("-fetched_at")
        .values_list("fetched_at", flat=True)
        .first()
    )
    return last is not None and timezone.now() - last < dt.timedelta(seconds=interval)


def _prune(retention_days: int) -> None:
    cutoff = timezone.now() - dt.timedelta(days=retention_days)
    PollJournalEntry.objects.filter(
        state=PollJournalEntry.State.DONE, ingested_at__lt=cutoff
    ).delete()
