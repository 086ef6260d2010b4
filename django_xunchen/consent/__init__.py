"""Consent: the ledger of who agreed to marketing (or to a named list), the rule that
marketing needs it where an account says so (``REQUIRE_CONSENT``, applied by
:mod:`django_xunchen.sending.admission`), the double opt-in view, the import of existing
consents, and the evidence document of one number.

The names below are imported on first use (:mod:`django_xunchen._lazy`): the
suppression list writes withdrawals through :mod:`.ledger`, and :mod:`.api` lifts a
suppression, so importing both here would tie the two packages into a circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .api import grant_consent, has_consent, withdraw_consent
    from .evidence import evidence_document
    from .ledger import InvalidScopeError, consented, history

_WHERE = {
    "InvalidScopeError": "ledger",
    "consented": "ledger",
    "evidence_document": "evidence",
    "grant_consent": "api",
    "has_consent": "api",
    "history": "ledger",
    "withdraw_consent": "api",
}
__all__ = [
    "InvalidScopeError",
    "consented",
    "evidence_document",
    "grant_consent",
    "has_consent",
    "history",
    "withdraw_consent",
]
__getattr__, __dir__ = exports(__name__, _WHERE)
