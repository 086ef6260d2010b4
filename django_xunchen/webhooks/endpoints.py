"""Endpoints: which events each wants, saving one (its secret made once), and disabling
one that failed for a day, with the alert that tells staff."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.translation import gettext as _

from ..models import HealthAlert, WebhookEndpoint
from ..operations import alerts
from ..operations.monitoring import Check, Level
from . import signing

logger = logging.getLogger("django_xunchen.webhooks")
#: The longest wait between two attempts of a delivery (``delivery.MAX_BACKOFF``): a
#: failing endpoint with deliveries pending is tried at least this often.
MAX_QUIET_SECONDS = 3600


def alert_key(pk: int) -> str:
    return f"webhook_disabled:{pk}"


def wants(endpoint: WebhookEndpoint, event_type: str, data: dict[str, Any] | None) -> bool:
    """Whether ``endpoint`` gets an event of ``event_type`` about ``data`` (its object):
    the type is among its events, and the object's account and kind match its filters
    where the object has them (a suppression has neither: it goes to every endpoint
    that wants the type)."""
    if event_type not in (endpoint.events or []):
        return False
    data = data or {}
    if endpoint.account and data.get("account", endpoint.account) != endpoint.account:
        return False
    return not (endpoint.kind and data.get("kind", endpoint.kind) != endpoint.kind)


def save_endpoint(endpoint: WebhookEndpoint) -> str | None:
    """Save ``endpoint``; a new one gets its secret, returned to be shown once (``None``
    for a change). Enabling an endpoint the app disabled clears its failure and its
    alert; any other change leaves its failure clock running."""
    created = endpoint.pk is None
    shown = None
    if created:
        shown = endpoint.secret = signing.new_secret()
    with transaction.atomic():
        enabled_again = endpoint.is_active and endpoint.disabled_at is not None
        if enabled_again:
            endpoint.disabled_at = endpoint.failing_since = endpoint.last_failed_at = None
            endpoint.disabled_reason = ""
        endpoint.save()
        if enabled_again:
            _alert(endpoint.pk, raised=False, detail="")
    return shown


def succeeded(pk: int) -> None:
    """A 2xx from endpoint ``pk``: it is not failing."""
    WebhookEndpoint.objects.filter(pk=pk, failing_since__isnull=False).update(
        failing_since=None, last_failed_at=None
    )


def failed(pk: int, now: dt.datetime) -> None:
    """A failed attempt at endpoint ``pk``. Its failure clock starts now unless it was
    already failing, without a success since and without a quiet spell longer than a
    retry's longest wait (an endpoint that failed once days ago and fails again now has
    not been failing for days)."""
    quiet = now - dt.timedelta(seconds=2 * MAX_QUIET_SECONDS)
    WebhookEndpoint.objects.filter(pk=pk).filter(
        Q(failing_since__isnull=True) | Q(last_failed_at__isnull=True) | Q(last_failed_at__lt=quiet)
    ).update(failing_since=now)
    WebhookEndpoint.objects.filter(pk=pk).update(last_failed_at=now)


def disable_if_failing(pk: int, now: dt.datetime, after_seconds: float) -> bool:
    """Disable endpoint ``pk`` if every attempt failed since ``after_seconds`` ago or
    longer, and raise its alert (an ERROR in the log, so ``mail_admins`` carries it,
    the ``health_alert`` signal and the admin's banner). True if this call disabled it."""
    since = now - dt.timedelta(seconds=after_seconds)
    reason = _("Every delivery failed for %(hours)s hours; disabled at %(at)s.") % {
        "hours": f"{after_seconds / 3600:g}",
        "at": now.isoformat(timespec="seconds"),
    }
    with transaction.atomic():
        done = WebhookEndpoint.objects.filter(
            pk=pk, is_active=True, failing_since__lte=since
        ).update(is_active=False, disabled_at=now, disabled_reason=reason[:300])
        if done:
            name = WebhookEndpoint.objects.filter(pk=pk).values_list("name", flat=True).first()
            detail = _("Webhook endpoint %(name)s: %(reason)s") % {"name": name, "reason": reason}
            _alert(pk, raised=True, detail=detail)
    return bool(done)


def _alert(pk: int, raised: bool, detail: str) -> None:
    key = alert_key(pk)
    if not raised and not HealthAlert.objects.filter(key=key, active=True).exists():
        return
    level = Level.CRITICAL if raised else Level.OK
    alerts.set_alert(key, raised, Check("webhook_disabled", level, None, detail))


@receiver(post_delete, sender=WebhookEndpoint, dispatch_uid="django_xunchen.webhooks.deleted")
def _deleted(sender: type, instance: WebhookEndpoint, **kwargs: Any) -> None:
    """A deleted endpoint's alert is over."""
    if instance.disabled_at is not None:
        _alert(instance.pk, raised=False, detail="")


__all__ = ["disable_if_failing", "failed", "save_endpoint", "succeeded", "wants"]
