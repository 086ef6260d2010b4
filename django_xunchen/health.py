"""Is polling healthy? The gateway keeps a report only for the day it was made (China
Standard Time), so a poller that stopped unnoticed loses reports for good at midnight."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.translation import gettext as _

from . import spool
from .conf import xunchen_settings
from .models import Message, PollJournalEntry, PollState

Op = PollJournalEntry.Operation


@dataclass
class PollHealth:
    """What ``poll_sms --check``, the admin banner and the system check report."""

    #: Operation → when it last fetched successfully (``None``: never).
    last_success: dict[str, dt.datetime | None] = field(default_factory=dict)
    #: One sentence per operation whose last successful fetch is too old.
    stale: list[str] = field(default_factory=list)
    set_aside: int = 0
    spooled: int = 0
    report_overdue: int = 0

    @property
    def ok(self) -> bool:
        return not self.stale


def poll_health(now: dt.datetime | None = None, *, count_overdue: bool = False) -> PollHealth:
    """Two small queries; ``count_overdue`` adds a count over the ``sent`` messages."""
    now = now or timezone.now()
    max_age = dt.timedelta(seconds=float(xunchen_settings()["POLL_MAX_AGE"]))
    states = {s.operation: s for s in PollState.objects.all()}
    health = PollHealth()
    for operation in (Op.REPORTS, Op.INBOUND):
        state = states.get(operation)
        last = state.last_success_at if state else None
        health.last_success[operation] = last
        label = str(Op(operation).label)
        if last is None:
            health.stale.append(
                _("No %(what)s have ever been fetched: is poll_sms running?") % {"what": label}
            )
        elif now - last > max_age:
            minutes = int((now - last).total_seconds() // 60)
            health.stale.append(
                _(
                    "The last successful fetch of %(what)s was %(minutes)d minutes ago: is "
                    "poll_sms running? The gateway keeps reports only until midnight (China "
                    "Standard Time)."
                )
                % {"what": label, "minutes": minutes}
            )
    health.set_aside = PollJournalEntry.objects.filter(
        state=PollJournalEntry.State.SET_ASIDE
    ).count()
    health.spooled = len(spool.pending())
    if count_overdue:
        health.report_overdue = Message.objects.report_overdue(now).count()
    return health
