"""The gateway accounts a poll reads (accounts sharing a login are polled once) and their locks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from ..backends import get_backend
from ..backends.base import BaseSMSBackend
from ..conf import account_names

LOCK_NAME = "django_xunchen.poll"


@dataclass
class GatewayAccount:
    """One report and reply queue at the provider, and the settings accounts that use it.

    ``name`` (the first of ``names``) is what its journal entries, reports, replies and
    poll state record."""

    backend: BaseSMSBackend
    names: list[str]

    # A property only calls a method: the mutation run skips decorated functions.
    @property
    def name(self) -> str:
        return self._name()

    @property
    def lock_name(self) -> str:
        return self._lock_name()

    def _name(self) -> str:
        return self.names[0]

    def _lock_name(self) -> str:
        digest = hashlib.sha256(self.backend.queue_id.encode()).hexdigest()[:24]
        return f"{LOCK_NAME}:{digest}"


def gateway_accounts(
    backend: str | None = None, broken: dict[str, str] | None = None
) -> list[GatewayAccount]:
    """The configured accounts grouped by the provider queue they read (base URL plus
    username for the real gateway): two settings names sharing one login are polled
    once, under one lock. An account whose backend cannot be built is left out and,
    given ``broken``, named there with the reason; without it, the error is raised."""
    groups: dict[str, GatewayAccount] = {}
    for name in account_names():
        try:
            sms_backend = get_backend(backend, account=name)
        except ImproperlyConfigured as exc:
            if broken is None:
                raise
            broken[name] = str(exc)
            continue
        group = groups.get(sms_backend.queue_id)
        if group is None:
            groups[sms_backend.queue_id] = GatewayAccount(sms_backend, [name])
        else:
            group.names.append(name)
    return list(groups.values())


def lock_name_for(account: str = "default") -> str:
    """The name of the poll lock of ``account``'s gateway login."""
    return next(g.lock_name for g in gateway_accounts() if account in g.names)
