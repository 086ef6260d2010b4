"""A campaign file checked in the background.

The upload request only stores the file (:func:`store_file`, in
:class:`~django_xunchen.models.CampaignFileChunk` rows: the check may run on another
machine, and a host need not configure MEDIA) and leaves the campaign ``checking``. A
task (``tasks.check_campaign_file``) or, where no task engine defers work, cron's
``send_queued`` (:func:`check_waiting`) then runs :func:`run`: it claims the campaign,
copies the file to a temporary file of its own, and checks and stores its rows a batch
at a time, each batch committed with the progress (``checked_rows``) and a heartbeat, so
that the campaign page shows how far it got without writing anything.

All or nothing: the campaign stays ``checking``, which cannot be confirmed, until every
row is stored. A refused file deletes every row stored and leaves the campaign a draft
whose ``check_error`` says why; a cancel deletes them too. A process that dies mid-check
stops beating: after :data:`STALE_AFTER` seconds the tick (:func:`hand_over`) or cron
gives the check to another process, which deletes the rows stored and starts again. A
process whose claim was taken over or cancelled stores nothing more: each batch goes in
the transaction that checks the claim, after the row lock that a cancel also takes.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import uuid
from typing import IO

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stopping
from ..exceptions import XunchenValidationError
from ..models import Campaign, CampaignFileChunk, CampaignRecipient
from .spreadsheets import SpreadsheetError
from .staging import Totals, prepare, store

State = Campaign.State
logger = logging.getLogger("django_xunchen.campaigns")

#: Seconds without a heartbeat after which a check is taken to have lost its process.
#: A batch beats every :data:`~.staging.STAGE_BATCH` rows (well under a second); the
#: longest silence is the copy of the file and openpyxl's opening of it.
STALE_AFTER = 300
#: Bytes of the file per stored chunk.
FILE_CHUNK = 1 << 20


class Lost(Exception):
    """The check is no longer this process's: the campaign was cancelled, or another
    process took the check over."""


class Stopped(Exception):
    """SIGTERM or Ctrl-C asked the process to stop (:mod:`django_xunchen.stopping`)."""


def store_file(campaign: Campaign, file: IO[bytes]) -> int:
    """Store ``file`` as the campaign's chunks, a megabyte at a time; its size in bytes."""
    file.seek(0)
    size = index = 0
    while chunk := file.read(FILE_CHUNK):
        CampaignFileChunk.objects.create(campaign=campaign, index=index, data=chunk)
        size += len(chunk)
        index += 1
    file.seek(0)
    return size


def _copy_file(campaign_id: int, into: IO[bytes]) -> None:
    chunks = (
        CampaignFileChunk.objects.filter(campaign_id=campaign_id)
        .order_by("index")
        .values_list("data", flat=True)
    )
    for data in chunks.iterator(chunk_size=1):
        into.write(data)
    into.seek(0)


def _stale(now: dt.datetime) -> Q:
    return Q(check_heartbeat__isnull=True) | Q(
        check_heartbeat__lt=now - dt.timedelta(seconds=STALE_AFTER)
    )


def claimable(now: dt.datetime) -> Q:
    """Campaigns whose file waits for a check no live process is doing."""
    return Q(state=State.CHECKING) & (Q(check_claim="") | _stale(now))


def run(campaign_id: int) -> str:
    """Check the file of the campaign ``campaign_id`` unless a live process does:
    ``"checked"``, ``"refused"``, ``"lost"`` (cancelled or taken over meanwhile),
    ``"stopped"`` (a signal asked the process to stop: the rows stored are deleted and
    the check may start again at once elsewhere) or ``""`` (nothing to do)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    claimed = Campaign.objects.filter(claimable(now), pk=campaign_id).update(
        check_claim=token, check_heartbeat=now, checked_rows=0
    )
    if not claimed:
        return ""
    campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
    try:
        with transaction.atomic():
            _beat(campaign_id, token, 0)
            CampaignRecipient.objects.filter(campaign_id=campaign_id).delete()  # a dead try's
        with tempfile.TemporaryFile() as file:
            _copy_file(campaign_id, file)
            return _check(campaign, token, file)
    except Lost:
        return "lost"
    except Stopped:
        _release(campaign_id, token)
        return "stopped"


def _check(campaign: Campaign, token: str, file: IO[bytes]) -> str:
    chosen = {int(n): c for n, c in (campaign.param_columns or {}).items()}
    try:
        staging = prepare(
            campaign,
            file,
            campaign.file_name,
            mobile_column=campaign.mobile_column or None,
            param_columns=chosen or None,
        )
        try:
            totals = Totals()
            for number, batch in staging.batches():
                if stopping.requested():
                    raise Stopped
                with transaction.atomic():
                    _beat(campaign.pk, token, number)
                    if batch:
                        store(batch)
                totals.add(batch)
        finally:
            staging.close()  # while the file is still open
    except (XunchenValidationError, SpreadsheetError) as exc:
        _refuse(campaign.pk, token, str(exc))
        return "refused"
    except (Lost, Stopped, DatabaseError):
        raise  # the database may come back: after STALE_AFTER, another try
    except Exception as exc:  # a fault of ours: refused rather than tried forever
        logger.exception("checking the file of campaign %s failed", campaign.pk)
        _refuse(campaign.pk, token, _("The file could not be checked: %(error)s") % {"error": exc})
        return "refused"
    fields = staging.finish(totals)
    with transaction.atomic():
        done = _mine(campaign.pk, token).update(
            **fields, state=State.DRAFT, check_claim="", check_heartbeat=None
        )
        if not done:
            raise Lost
        CampaignFileChunk.objects.filter(campaign_id=campaign.pk).delete()
    return "checked"


def _mine(campaign_id: int, token: str):
    return Campaign.objects.filter(pk=campaign_id, state=State.CHECKING, check_claim=token)


def _beat(campaign_id: int, token: str, checked: int) -> None:
    """Write the progress, or raise :class:`Lost` if the check is no longer ours (the
    UPDATE takes the campaign's row lock until the batch commits)."""
    if not _mine(campaign_id, token).update(checked_rows=checked, check_heartbeat=timezone.now()):
        raise Lost


def _refuse(campaign_id: int, token: str, reason: str) -> None:
    """Back to a draft without rows, saying why; the file is deleted."""
    with transaction.atomic():
        refused = _mine(campaign_id, token).update(
            state=State.DRAFT,
            check_error=reason[:500],
            rows=0,
            valid=0,
            total_parts=0,
            check_claim="",
            check_heartbeat=None,
        )
        if refused:
            discard(campaign_id)


def _release(campaign_id: int, token: str) -> None:
    """Give the check up, its rows deleted, for any process to start again."""
    with transaction.atomic():
        if _mine(campaign_id, token).update(check_claim="", check_heartbeat=None, checked_rows=0):
            CampaignRecipient.objects.filter(campaign_id=campaign_id).delete()


def discard(campaign_id: int) -> None:
    """Delete the rows a check stored and the file it was checking."""
    CampaignRecipient.objects.filter(campaign_id=campaign_id).delete()
    CampaignFileChunk.objects.filter(campaign_id=campaign_id).delete()


def check_waiting() -> int:
    """Check here, one after the other, the file of every campaign waiting for a check
    that no live process is doing: cron's ``send_queued`` where no task engine defers
    work. How many were checked or refused."""
    waiting = (
        Campaign.objects.filter(claimable(timezone.now()))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    done = 0
    for pk in list(waiting):
        if stopping.requested():
            break
        done += run(pk) in ("checked", "refused")
    return done


def hand_over() -> list[int]:
    """The campaigns whose check lost its process (or whose task never came), released
    for a new task to claim; the tick enqueues one for each. Marked as just handed over,
    so that the next tick leaves them to that task for :data:`STALE_AFTER` seconds."""
    now = timezone.now()
    lost = Campaign.objects.filter(_stale(now), state=State.CHECKING)
    ids = list(lost.values_list("pk", flat=True))
    if ids:
        lost.filter(pk__in=ids).update(check_claim="", check_heartbeat=now)
    return ids
