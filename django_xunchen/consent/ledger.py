"""Writing and reading the consent ledger.

Entries are only ever added. A number's state for a scope is its latest entry, by the
time the person acted (``at``) and then by id: an imported grant dated last year does not
undo a withdrawal made since. The suppression list (:mod:`django_xunchen.policy`) writes
withdrawals through this module; :mod:`django_xunchen.sending.admission` reads
:func:`granted_filter` and :func:`consented` where an account requires consent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from ..client.validation import validate_mobiles
from ..db import one_of
from ..exceptions import XunchenValidationError
from ..models import Consent, InboundMessage
from ..models.consent import MARKETING
from ..signals import consent_granted, consent_withdrawn, send_on_commit

Source = Consent.Source

_SCOPE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Numbers looked up per query when many are read or written at once.
BATCH = 1000


class InvalidScopeError(XunchenValidationError):
    """A consent scope that is not a short lower-case name."""


def clean_scope(scope: object) -> str:
    """``scope`` if it is a name of up to 64 lower-case letters, digits, ``_``, ``.``
    and ``-`` (``"marketing"``, ``"newsletter"``); else :class:`InvalidScopeError`."""
    if not isinstance(scope, str) or not _SCOPE.match(scope):
        raise InvalidScopeError(
            _("A consent scope is a name of lower-case letters, digits, _ . and -.")
        )
    return scope


@dataclass
class Evidence:
    """What shows that the person acted: all optional, kept with the entry."""

    wording: str = ""
    ip: str | None = None
    user_agent: str = ""
    file_name: str = ""
    file_row: int | None = None
    staff: Any = None
    reply: InboundMessage | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        staff = self.staff if getattr(self.staff, "pk", None) is not None else None
        return {
            "wording": self.wording,
            "ip": self.ip or None,
            "user_agent": (self.user_agent or "")[:300],
            "file_name": (self.file_name or "")[:255],
            "file_row": self.file_row,
            "staff": staff,
            "staff_name": staff.get_username()[:150] if staff is not None else "",
            "reply": self.reply,
            "note": (self.note or "")[:500],
        }


def record(
    mobile: str,
    granted: bool,
    *,
    source: str,
    scope: str = MARKETING,
    at: dt.datetime | None = None,
    evidence: Evidence | None = None,
) -> Consent:
    """Append one entry; ``consent_granted`` or ``consent_withdrawn`` is sent after the
    commit. Raises :class:`~django_xunchen.exceptions.InvalidMobileError`,
    :class:`InvalidScopeError` or (an unknown ``source``)
    :class:`~django_xunchen.exceptions.XunchenValidationError` before writing anything."""
    (number,) = validate_mobiles(mobile)
    scope = clean_scope(scope)
    if source not in Source.values:
        raise XunchenValidationError(
            f"source must be one of {', '.join(Source.values)}, not {source!r}"
        )
    now = timezone.now()
    entry = Consent(
        mobile=number,
        scope=scope,
        granted=granted,
        at=at or now,
        recorded_at=now,
        source=source,
        **(evidence or Evidence()).fields(),
    )
    with transaction.atomic():
        entry.save(force_insert=True)
        signal = consent_granted if granted else consent_withdrawn
        send_on_commit([(signal, Consent, {"mobile": number, "consent": entry})])
    return entry


def withdraw_everywhere(
    mobile: str,
    *,
    source: str,
    at: dt.datetime | None = None,
    evidence: Evidence | None = None,
) -> list[Consent]:
    """Withdraw marketing and every other scope the number has a current grant for (a
    退订 reply or a suppression ends all marketing): the withdrawals written."""
    (number,) = validate_mobiles(mobile)
    scopes = {MARKETING, *current_grants([number]).get(number, ())}
    return [
        record(number, False, source=source, scope=scope, at=at, evidence=evidence)
        for scope in sorted(scopes)
    ]


def withdraw_granted(numbers: Sequence[str], *, source: str, note: str = "") -> int:
    """For many numbers at once (an import to the suppression list): a withdrawal for
    each scope each of them has a current grant for; those without one get none (they
    have no consent to withdraw). Inside the caller's transaction; returns the count."""
    granted = current_grants(numbers)
    now = timezone.now()
    entries = [
        Consent(
            mobile=number,
            scope=scope,
            granted=False,
            at=now,
            recorded_at=now,
            source=source,
            note=note[:500],
        )
        for number, scopes in granted.items()
        for scope in sorted(scopes)
    ]
    Consent.objects.bulk_create(entries, batch_size=BATCH)
    if consent_withdrawn.has_listeners(Consent):  # else nothing is kept until the commit
        send_on_commit(
            (consent_withdrawn, Consent, {"mobile": e.mobile, "consent": e}) for e in entries
        )
    return len(entries)


def latest(mobiles: Iterable[str], scope: str | None = None) -> dict[tuple[str, str], Consent]:
    """The latest entry of each (number, scope) among ``mobiles`` (every scope, or only
    ``scope``): their current state, a query per :data:`BATCH` numbers."""
    found: dict[tuple[str, str], Consent] = {}
    numbers = sorted(set(mobiles))
    for start in range(0, len(numbers), BATCH):
        entries = Consent.objects.filter(one_of(Consent, "mobile", numbers[start : start + BATCH]))
        if scope is not None:
            entries = entries.filter(scope=scope)
        columns = ("mobile", "scope", "at", "granted")
        for entry in entries.only(*columns).order_by("mobile", "scope", "at", "id"):
            found[(entry.mobile, entry.scope)] = entry
    return found


def current_grants(mobiles: Iterable[str]) -> dict[str, set[str]]:
    """The scopes each of ``mobiles`` currently consents to (numbers with none left
    out)."""
    grants: dict[str, set[str]] = {}
    for (mobile, scope), entry in latest(mobiles).items():
        if entry.granted:
            grants.setdefault(mobile, set()).add(scope)
    return grants


def consented(mobiles: Iterable[str], scope: str = MARKETING) -> set[str]:
    """The numbers among ``mobiles`` whose latest entry for ``scope`` is a grant."""
    return {m for (m, _s), entry in latest(mobiles, scope).items() if entry.granted}


def granted_filter(scope: str = MARKETING, mobile: str = "mobile") -> Exists:
    """A filter for rows (messages, campaign recipients) whose number, in the field
    ``mobile``, has a current grant for ``scope``: a grant with no later entry."""
    later = Consent.objects.filter(mobile=OuterRef("mobile"), scope=scope).filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk"))
    )
    return Exists(
        Consent.objects.filter(mobile=OuterRef(mobile), scope=scope, granted=True).exclude(
            Exists(later)
        )
    )


def history(mobile: str) -> QuerySet[Consent]:
    """Every entry of ``mobile``, oldest first."""
    (number,) = validate_mobiles(mobile)
    return Consent.objects.filter(mobile=number).order_by("at", "id")
