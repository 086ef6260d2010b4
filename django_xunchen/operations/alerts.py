"""Alerts that reach people, once per crossing: an account's balance below its
``LOW_BALANCE``, spool files or journal entries set aside, an account's spend this month
at ``HEALTH["MONTHLY_CAP_WARNING"]`` of its ``MONTHLY_CAP`` (``monthly_spend:<account>``,
clear again when a new month starts or the cap is raised), a channel's delivery
collapsing (``delivery_degraded:<account>:<carrier or province>``, the
``delivery_degraded`` signal: :mod:`django_xunchen.analytics.alarm`).

:func:`watch` runs after the ``send_queued`` and ``poll_sms`` commands, the tick and
each send task (not inside ``send_queued()`` and ``poll()`` themselves, which a
host may call from anywhere: a host with its own scheduler calls it too). It reads each
account's balance from the gateway at most once per ``HEALTH["BALANCE_EVERY"]``
seconds (across processes: the row is claimed by a conditional update), and raises an
alert when a check crosses into it: the signal (``low_balance``, ``health_alert``) after
the commit and an ERROR in the log (so that ``mail_admins`` carries it). A raised alert
is not raised again until it was clear in between; the admin's banner shows it
meanwhile. It never raises: a failing check is logged and left for the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..analytics import alarm
from ..backends import get_backend
from ..conf import account_names, health_settings, xunchen_settings
from ..exceptions import XunchenError
from ..models import AccountBalance, HealthAlert
from .monitoring import Check, Level, journal_check, monthly_spend_checks, spool_checks

logger = logging.getLogger("django_xunchen.health")

#: The checks whose crossing into critical raises an alert of the same name.
ALERTING = ("spool_set_aside", "journal_set_aside")


def watch(now: dt.datetime | None = None) -> None:
    """Check the balances that are due and the month's spend, and raise or clear the
    alerts."""
    now = now or timezone.now()
    try:
        for account in account_names():
            if xunchen_settings(account)["LOW_BALANCE"] is not None:
                check_balance(account, now, due_only=True)
        for check in [*spool_checks(), journal_check()]:
            if check.name not in ALERTING:
                continue
            set_alert(check.name, check.level >= Level.CRITICAL, check)
        for check in monthly_spend_checks():
            set_alert(f"monthly_spend:{check.account}"[:100], check.level >= Level.WARNING, check)
    except (DatabaseError, XunchenError, OSError) as exc:
        logger.warning("the health alerts could not be checked: %s", exc)
    try:
        alarm.watch(now)  # a channel's delivery collapsing: its own alerts
    except Exception as exc:  # whatever fails here must not fail the send or the poll
        logger.warning("the delivery alarm could not be checked: %s", exc, exc_info=True)


def check_balance(account: str, now: dt.datetime | None = None, *, due_only: bool = False):
    """Read ``account``'s balance from the gateway and store it; ``due_only``: only when
    the last reading is older than ``BALANCE_EVERY`` (and no other process took it).
    Fires ``low_balance`` when the balance crossed below ``LOW_BALANCE``. Returns the
    stored row, or ``None`` when it was not due."""
    now = now or timezone.now()
    row, _created = AccountBalance.objects.get_or_create(account=account)
    if due_only:
        every = dt.timedelta(seconds=float(health_settings()["BALANCE_EVERY"]))
        claimed = AccountBalance.objects.filter(
            Q(checked_at__isnull=True) | Q(checked_at__lte=now - every), pk=row.pk
        ).update(checked_at=now)
        if not claimed:
            return None
    try:
        with get_backend(account=account) as sms_backend:
            amount, error = sms_backend.get_balance().amount, ""
    except (XunchenError, ImproperlyConfigured) as exc:
        amount, error = None, str(exc)[:500]
    threshold = xunchen_settings(account)["LOW_BALANCE"]
    with transaction.atomic():
        row = AccountBalance.objects.select_for_update().get(pk=row.pk)
        was_low = row.low
        if amount is not None:
            row.amount = amount
            row.low = threshold is not None and amount < Decimal(str(threshold))
        row.checked_at, row.error = now, error
        row.save()
        if row.low and not was_low:
            logger.error(
                "the balance of account %r is %s, below LOW_BALANCE %s", account, amount, threshold
            )
            signals.send_on_commit(
                [
                    (
                        signals.low_balance,
                        AccountBalance,
                        {"account": account, "balance": amount, "threshold": threshold},
                    )
                ]
            )
        elif was_low and not row.low:
            logger.info("the balance of account %r is back above LOW_BALANCE", account)
    return row


def set_alert(key: str, raised: bool, check: Check) -> None:
    """Raise (or clear) the alert ``key`` if it is not already: a raise logs an ERROR
    and sends ``health_alert`` after the commit."""
    HealthAlert.objects.get_or_create(key=key)  # a race to create it ends in a get
    with transaction.atomic():
        alert = HealthAlert.objects.select_for_update().get(key=key)
        if alert.active == raised:
            return
        alert.active, alert.detail = raised, check.detail[:500]
        alert.save()
        if raised:
            logger.error("%s: %s (%s)", key, check.detail, check.value)
            signals.send_on_commit([(signals.health_alert, HealthAlert, {"check": check})])
