"""Is polling healthy? The gateway keeps a report only for the day it was made (China
Standard Time), so a poller that stopped unnoticed loses reports for good at midnight."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext as _

from ..conf import account_names, xunchen_settings
from ..models import Message, PollJournalEntry, PollState
from ..outcomes import spool
from ..polling import spool as poll_spool
from ..polling.accounts import gateway_accounts

Op = PollJournalEntry.Operation


@dataclass
class PollHealth:
    """What ``poll_sms --check``, the admin banner and the system check report."""

    #: (gateway account, operation) → when it last fetched successfully (``None``:
    #: never). A gateway account is named by the first settings account that uses it.
    last_success: dict[tuple[str, str], dt.datetime | None] = field(default_factory=dict)
    #: One sentence per account and operation whose last successful fetch is too old.
    stale: list[str] = field(default_factory=list)
    #: The same sentences by (gateway account, operation).
    stale_by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    set_aside: int = 0
    spooled: int = 0
    #: Spool files set aside as ``*.bad``: they could not be read or applied.
    spool_bad: int = 0
    #: Why nothing can be spooled on this host (``SPOOL_DIR`` unset), or "".
    spool_problem: str = ""
    #: Poll answers the database refused, on disk until the next poll journals them.
    answers_waiting: int = 0
    report_overdue: int = 0

    @property
    def ok(self) -> bool:
        return not self.stale


def polled_accounts() -> list[str]:
    """The name each gateway account is polled under: settings accounts sharing one
    login count once."""
    broken: dict[str, str] = {}
    names = [g.name for g in gateway_accounts(broken=broken)]
    return [n for n in account_names() if n in names or n in broken]


def poll_health(
    now: dt.datetime | None = None, *, count_overdue: bool = False, set_aside: int | None = None
) -> PollHealth:
    """Two small queries (one when ``set_aside``, the journal entries set aside, is
    given); ``count_overdue`` adds a count over the ``sent`` messages."""
    now = now or timezone.now()
    max_age = dt.timedelta(seconds=float(xunchen_settings()["POLL_MAX_AGE"]))
    accounts = polled_accounts()
    states = {(s.account, s.operation): s for s in PollState.objects.filter(account__in=accounts)}
    health = PollHealth()
    for account in accounts:
        for operation in (Op.REPORTS, Op.INBOUND):
            state = states.get((account, operation))
            last = state.last_success_at if state else None
            health.last_success[(account, operation)] = last
            label = str(Op(operation).label)
            if len(accounts) > 1:
                label = _("%(what)s of account %(account)s") % {"what": label, "account": account}
            sentence = ""
            if last is None:
                sentence = _("No %(what)s have ever been fetched: is poll_sms running?") % {
                    "what": label
                }
            elif now - last > max_age:
                minutes = int((now - last).total_seconds() // 60)
                sentence = _(
                    "The last successful fetch of %(what)s was %(minutes)d minutes ago: "
                    "is poll_sms running? The gateway keeps reports only until midnight "
                    "(China Standard Time)."
                ) % {"what": label, "minutes": minutes}
            if sentence:
                health.stale.append(sentence)
                health.stale_by_key[(account, operation)] = sentence
    if set_aside is None:
        set_aside = PollJournalEntry.objects.filter(state=PollJournalEntry.State.SET_ASIDE).count()
    health.set_aside = set_aside
    health.spooled = len(spool.pending())
    health.spool_bad = len(spool.bad_files())
    health.answers_waiting = poll_spool.counts()[0]
    try:
        spool.spool_dir()
    except ImproperlyConfigured:
        health.spool_problem = _(
            "XUNCHEN['SPOOL_DIR'] is not set: a send outcome the database refuses cannot be "
            "kept on disk."
        )
    if count_overdue:
        health.report_overdue = Message.objects.report_overdue(now).count()
    return health
