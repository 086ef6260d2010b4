"""A new campaign from an uploaded file: staged at once when the file is small, else
stored and checked in the background (:mod:`.checking`), so that an upload request of
any size the caps allow returns in seconds.
"""

from __future__ import annotations

from typing import IO, Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from .. import tasks
from ..conf import xunchen_settings
from ..exceptions import XunchenValidationError
from ..models import Campaign
from . import checking
from .spreadsheets import SpreadsheetError, Upload, check_upload
from .staging import prepare, stage
from .text import check_campaign

State = Campaign.State


def in_background(rows: int) -> bool:
    """Whether a file of ``rows`` rows is checked in the background
    (``CAMPAIGN_BACKGROUND_FROM_ROWS``; ``None``: never)."""
    least = xunchen_settings()["CAMPAIGN_BACKGROUND_FROM_ROWS"]
    if least is not None and (isinstance(least, bool) or not isinstance(least, int) or least < 0):
        raise ImproperlyConfigured(
            "XUNCHEN['CAMPAIGN_BACKGROUND_FROM_ROWS'] must be a whole number of rows, or "
            f"None, not {least!r}"
        )
    return least is not None and rows >= least


def check_file(
    campaign: Campaign,
    file: IO[bytes],
    name: str,
    *,
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
) -> Upload:
    """What can be said of an upload before anything is stored, for a form to show as
    its error: the campaign's text, the file as a whole (its size, kind, encoding and
    rows), its columns from the first rows and, when it is small enough to be staged at
    once, every row read once. Raises :class:`~.text.CampaignError` (or another
    :class:`~django_xunchen.exceptions.XunchenValidationError`) or
    :class:`~.spreadsheets.SpreadsheetError`; leaves ``file`` at its start."""
    check_campaign(campaign)
    upload = check_upload(file, name)
    if upload.kind == "xlsx" and in_background(upload.rows):
        # openpyxl reads a whole sheet that does not declare its size (openpyxl's own
        # write-only files, some exports) just to open it: 30 s for 1,000,000 rows.
        # The check in the background finds the columns, or says why it cannot.
        return upload
    try:
        staging = prepare(
            campaign, file, name, mobile_column=mobile_column, param_columns=param_columns
        )
        try:
            if not in_background(upload.rows):
                for _row in staging.rows:
                    pass
        finally:
            staging.close()
    finally:
        file.seek(0)
    return upload


def create_draft(
    campaign: Campaign,
    file: IO[bytes],
    name: str,
    *,
    created_by: Any = None,
    mobile_column: int | None = None,
    param_columns: dict[int, int] | None = None,
    upload: Upload | None = None,
) -> Campaign:
    """Save the new draft ``campaign``, made by ``created_by`` (staff, from the admin),
    with the rows of ``file``.

    A file of fewer than ``CAMPAIGN_BACKGROUND_FROM_ROWS`` rows is staged here
    (:func:`~.staging.stage`); one it refuses raises after the save, and the draft stays
    without recipients, its ``check_error`` saying why. A larger one is stored and the
    campaign is ``checking`` until a task, or cron's ``send_queued`` where no task
    engine defers work, has checked it (:mod:`.checking`). ``upload`` is
    :func:`check_file`'s, when the caller has it; without it, the file is inspected
    first, and a file refused then raises before anything is saved."""
    upload = upload or check_upload(file, name)
    campaign.created_by = created_by
    campaign.file_name = name[:255]
    campaign.file_rows = upload.rows
    if in_background(upload.rows):
        with transaction.atomic():
            campaign.state = State.CHECKING
            campaign.mobile_column = mobile_column or 0  # 0 until the check finds it
            campaign.param_columns = {str(n): c for n, c in (param_columns or {}).items()}
            campaign.checked_rows = 0
            campaign.check_claim = ""
            campaign.check_heartbeat = timezone.now()  # the tick leaves it to its task
            campaign.save()
            checking.store_file(campaign, file)
            tasks.enqueue_check(campaign.pk)
        return campaign
    campaign.save()
    try:
        return stage(campaign, file, name, mobile_column=mobile_column, param_columns=param_columns)
    except (XunchenValidationError, SpreadsheetError) as exc:
        campaign.check_error = str(exc)[:500]
        Campaign.objects.filter(pk=campaign.pk).update(check_error=campaign.check_error)
        raise
