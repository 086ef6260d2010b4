"""Endpoints: which events each wants, saving one (its secret made once), and disabling
one that failed for a day, with the alert that tells staff."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from ..models import HealthAlert, WebhookEndpoint
from ..operations import alerts
from ..operations.monitoring import Check, Level
from . import signing

logger = logging.getLogger("django_xunchen.webhooks")


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
    for a change). Enabling a disabled endpoint clears its failure and its alert."""
    created = endpoint.pk is None
    shown = None
    if created:
        shown = endpoint.secret = signing.new_secret()
    with transaction.atomic():
        if endpoint.is_active and (endpoint.disabled_at or endpoint.failing_since):
            endpoint.disabled_at = endpoint.failing_since = None
            endpoint.disabled_reason = ""
        endpoint.save()
        if endpoint.is_active:
            _alert(endpoint.pk, raised=False, detail="")
    return shown


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret for ``endpoint``, returned to be shown once; the old one stops
    signing at once."""
    endpoint.secret = signing.new_secret()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret=endpoint.secret)
    return endpoint.secret


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
            _alert(
                pk,
                raised=True,
                detail=_("Webhook endpoint %(name)s: %(reason)s")
                % {
                    "name": name,
                    "reason": reason,
                },
            )
    return bool(done)


def _alert(pk: int, raised: bool, detail: str) -> None:
    key = alert_key(pk)
    if not raised and not HealthAlert.objects.filter(key=key, active=True).exists():
        return
    level = Level.CRITICAL if raised else Level.OK
    alerts.set_alert(key, raised, Check("webhook_disabled", level, None, detail))


def disabled_endpoints() -> list[WebhookEndpoint]:
    """The endpoints the app disabled after a day of failures and nobody enabled since."""
    return list(WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False))


__all__ = ["disable_if_failing", "rotate_secret", "save_endpoint", "wants"]
