"""The host project's consent functions: record a grant or a withdrawal, ask whether a
number consents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..client.types import Mobile
from ..client.validation import validate_mobiles
from ..exceptions import XunchenValidationError
from ..models import Consent, Suppression
from ..models.consent import MARKETING
from ..policy.suppression import unsuppress
from ..verification.codes import client_ip
from .ledger import Evidence, consented, record

Source = Consent.Source

#: Sources where the person acted on the site itself: such a grant is their newer word
#: than a 退订 they replied before, and takes the number off the suppression list.
_OWN_ACT = (Source.FORM, Source.OPT_IN)


def grant_consent(
    mobile: Mobile,
    *,
    scope: str = MARKETING,
    source: str = Source.API,
    wording: str = "",
    request: Any = None,
    at: dt.datetime | None = None,
    staff: Any = None,
    note: str = "",
) -> Consent:
    """Record that ``mobile`` agreed to ``scope`` (marketing, or a list's name).

    ``wording`` is the text the person agreed to; ``request`` (an ``HttpRequest``)
    gives the evidence of the client's address (as the verification throttles read it)
    and user agent; ``staff`` the user who recorded it. A grant made on a web form
    (``source`` ``"form"`` or ``"opt_in"``) also takes the number off the suppression
    list where it was only there by the person's own 退订 reply. Sends
    ``consent_granted`` after the commit."""
    evidence = _evidence(request, wording=wording, staff=staff, note=note)
    with transaction.atomic():
        entry = record(
            mobile, True, source=source, scope=scope, at=_checked_at(at), evidence=evidence
        )
        if source in _OWN_ACT and scope == MARKETING:
            listed = Suppression.objects.filter(
                mobile=entry.mobile, source=Suppression.Source.REPLY
            ).exists()
            if listed:
                unsuppress(entry.mobile)
    return entry


def withdraw_consent(
    mobile: Mobile,
    *,
    scope: str = MARKETING,
    source: str = Source.API,
    request: Any = None,
    at: dt.datetime | None = None,
    staff: Any = None,
    note: str = "",
) -> Consent:
    """Record that ``mobile`` withdrew its consent to ``scope``. Marketing to it stops
    where the account requires consent; to stop it everywhere, put the number on the
    suppression list. Sends ``consent_withdrawn`` after the commit."""
    evidence = _evidence(request, staff=staff, note=note)
    return record(mobile, False, source=source, scope=scope, at=_checked_at(at), evidence=evidence)


def has_consent(mobile: Mobile, scope: str = MARKETING) -> bool:
    """Whether the latest entry of ``mobile`` for ``scope`` is a grant."""
    (number,) = validate_mobiles(mobile)
    return number in consented([number], scope)


def _checked_at(at: dt.datetime | None) -> dt.datetime | None:
    """``at``, unless it is later than now: a grant dated in the future would outlast
    every withdrawal until then."""
    if at is not None and at > timezone.now():
        raise XunchenValidationError(_("A consent cannot be dated in the future."))
    return at


def _evidence(request: Any, **values: Any) -> Evidence:
    evidence = Evidence(**values)
    if request is not None:
        evidence.ip = client_ip(request)
        evidence.user_agent = request.META.get("HTTP_USER_AGENT", "")
        user = getattr(request, "user", None)
        if evidence.staff is None and getattr(user, "is_staff", False):
            evidence.staff = user
    return evidence
