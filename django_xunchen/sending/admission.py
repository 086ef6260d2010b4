"""Admission: whether, when and how a message may go out. Every rule, once.

A message meets the rules twice: when its row is written, and again when it is
submitted, because time passes in between (quiet hours, a retry, a task queue): a number
opts out, quiet hours begin, the number reaches its daily cap through another send, the
gateway refuses a word, the message expires. Every path that writes rows (``send_sms``,
``resend``, campaign confirm, verification codes: :func:`check_monthly_cap` alone, the
other rules sparing them) calls the write-time functions, and
every path that submits (the send itself, the background task, ``send_queued``, the
tick, a fallback, campaign sending) goes through :func:`at_submit` and :func:`claimable`
in :func:`~django_xunchen.dispatch.dispatch`. A rule added later is added here.

Which rule applies to what:

========================  =====================  ===================================
rule                      kinds                  outcome
========================  =====================  ===================================
suppression               by the entry's scope   ``suppressed``, with the entry's source
consent (REQUIRE_CONSENT) marketing              ``suppressed``: no consent
daily cap per number      marketing              ``suppressed``: had its share today
quiet hours               marketing              held: ``queued`` until they end
learned blocked words     all but verification   refused when written; ``failed`` when
                                                 submitted
expiry                    any with one           ``expired``
opt-out footer            marketing              appended (a template must carry one)
monthly spending cap      all                    refused when written, nothing written
                                                 (``MonthlyCapError``); no fallback to an
                                                 account the send would take over its cap
========================  =====================  ===================================

:mod:`.policy` keeps the facts these rules read (the suppression list, the quiet window,
the words learned, parts and prices), :mod:`.consent` the consent ledger; this module
decides.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from django.db.models import Count, Exists, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest

from .. import policy
from ..conf import xunchen_settings
from ..consent import ledger as consent
from ..db import from_db_datetime, one_of, status_is, to_db_datetime
from ..exceptions import LearnedBlockedWordsError, MonthlyCapError
from ..models import Message, Suppression, Template, gateway_day_start
from ..operations import rollup
from ..policy.spending import SPENDING
from ..webhooks import events as webhook_events

Kind = Message.Kind
Status = Message.Status

SUPPRESSED_TEXT = "The number is on the suppression list (%(source)s)."
SUPPRESSED_LATER = "The number went on the suppression list before the message was sent."
NO_CONSENT_TEXT = "No consent: the number has no current consent to marketing."
NO_CONSENT_LATER = "No consent: the number had no current consent to marketing when it was due."
CAPPED_TEXT = "The number has had its marketing messages for the day the message goes out."
BLOCKED_LATER = (
    "The gateway refused these words since the message was written, so it was not sent: %(words)s."
)

# --------------------------------------------------------------------------- how


def text(content: str, kind: str, account: str, template: Template | None = None) -> str:
    """The text as it goes out: marketing carries the account's opt-out footer (a
    marketing template must have one of its own: raises
    :class:`~.exceptions.MissingOptOutFooterError`)."""
    if kind != Kind.MARKETING:
        return content
    if template is not None:
        policy.check_template_footer(template)
        return content
    return policy.with_footer(content, account)


def part_counter(account: str) -> Callable[[str], int]:
    """Billable parts of a text on ``account`` (the signature included)."""
    return policy.part_counter(account)


def blocked_words(
    content: str, kind: str, account: str, words: Iterable[str] | None = None
) -> list[str]:
    """The words of ``content`` the gateway refused before on ``account`` (``words``: the
    account's, read once by the caller for many texts). None for a verification code:
    its text is the site's own."""
    if kind == Kind.VERIFICATION:
        return []
    if words is None:
        return policy.blocked_words_in(content, account)
    return sorted(w for w in words if w in content)


def learned_words(account: str) -> list[str]:
    """The words the gateway refused on ``account`` that are still in force."""
    return policy.learned_words(account)


def check_blocked_words(content: str, kind: str, account: str) -> None:
    """Raise :class:`~.exceptions.LearnedBlockedWordsError` for a text with such words."""
    found = blocked_words(content, kind, account)
    if found:
        raise LearnedBlockedWordsError(
            "the text has words the gateway refused before on account "
            f"{account!r}: {', '.join(found)}",
            found,
        )


# --------------------------------------------------------------------------- when


def hold(kind: str, account: str, at: dt.datetime) -> dt.datetime | None:
    """Until when a message of ``kind`` due at ``at`` waits: the end of the account's
    quiet hours for marketing inside them, else ``None``."""
    if kind != Kind.MARKETING:
        return None
    return policy.quiet_until(at, account)


# --------------------------------------------------------------------------- whether


def needs_consent(kind: str, account: str) -> bool:
    """Whether a message of ``kind`` on ``account`` needs the number's consent: marketing
    on an account with ``REQUIRE_CONSENT``."""
    return kind == Kind.MARKETING and bool(xunchen_settings(account)["REQUIRE_CONSENT"])


def without_consent(mobiles: Iterable[str], kind: str, account: str) -> set[str]:
    """The numbers among ``mobiles`` that a message of ``kind`` on ``account`` may not go
    to for want of consent (none where no consent is needed)."""
    if not needs_consent(kind, account):
        return set()
    numbers = set(mobiles)
    return numbers - consent.consented(numbers)


def suppressed(mobiles: Iterable[str], kind: str) -> dict[str, Suppression]:
    """The suppression entries that stop a message of ``kind`` to these numbers."""
    return policy.suppressed(mobiles, kind)


def screen(rows: Sequence[Message]) -> None:
    """At write: mark unsaved rows ``suppressed`` whose number is on the suppression list
    for their kind, lacks the consent its account requires, or (marketing) has had its
    daily cap of messages."""
    today = gateway_day_start()
    tomorrow = today + dt.timedelta(days=1)
    for kind, account, group in _groups(rows):
        listed = policy.suppressed([r.mobile for r in group], kind)
        unconsented = without_consent([r.mobile for r in group], kind, account)
        # The cap counts the day a message goes out: one held or scheduled for a later
        # day is left to the check at submit.
        due = [r.mobile for r in group if (_due(r) or today) < tomorrow]
        capped = _over_daily_cap(due, kind, account)
        for row in group:
            entry = listed.get(row.mobile)
            if entry is not None:
                row.status = Status.SUPPRESSED
                row.error_message = SUPPRESSED_TEXT % {"source": entry.get_source_display()}
            elif row.mobile in unconsented:
                row.status = Status.SUPPRESSED
                row.error_message = NO_CONSENT_TEXT
            elif row.mobile in capped:
                row.status = Status.SUPPRESSED
                row.error_message = CAPPED_TEXT


def check_monthly_cap(rows: Sequence[Message], spent: dict[str, Decimal] | None = None) -> None:
    """At write, after :func:`screen`: raise :class:`~.exceptions.MonthlyCapError` when
    the unsaved ``rows`` that will be billed (not ``suppressed``) would take an account
    with a ``MONTHLY_CAP`` over it this month. Nothing is read for an account without a
    cap. ``spent``: for a write in batches (a campaign's confirm), a dict the caller keeps
    across them: each account's month is read once, and each batch admitted is added."""
    spent = {} if spent is None else spent
    parts: dict[str, int] = {}
    for row in rows:
        if row.status in SPENDING:
            parts[row.account] = parts.get(row.account, 0) + row.parts
    caps = {account: policy.monthly_cap(account) for account in parts}
    capped = {account: cap for account, cap in caps.items() if cap is not None}
    spent.update(policy.month_spends(a for a in capped if a not in spent))
    for account, cap in capped.items():
        needed = policy.price_per_part(account) * parts[account]
        if spent[account] + needed > cap:
            raise MonthlyCapError(
                f"the send costs {needed} but account {account!r} has spent "
                f"{spent[account]} of its MONTHLY_CAP {cap} this month; nothing was written",
                account=account,
                cap=cap,
                spent=spent[account],
                needed=needed,
            )
        spent[account] += needed


def at_submit(rows: Sequence[Message], now: dt.datetime) -> list[Message]:
    """At submit: the rules that time may have changed since ``rows`` (saved, ``queued``,
    one kind, account and text) were written. Rows the rules stop are written with their
    truthful state (``expired``, held again for quiet hours, ``failed`` for a word
    learned since, ``suppressed`` over the daily cap); the others are returned, to be
    claimed through :func:`claimable`, which refuses the expired, the held and the
    suppressed once more in the claim's own statement."""
    if not rows:
        return []
    first = rows[0]
    kind, account = first.kind, first.account
    ids = [r.pk for r in rows]
    if any(r.expires_at for r in rows):
        expire(ids, now)
    waiting = Message.objects.filter(one_of(Message, "id", ids), status_is(Status.QUEUED))
    out = _goes_out(first, now)
    until = hold(kind, account, out)
    if until is not None:
        # A hold only moves later: a pause (held far ahead) stays a pause.
        later = to_db_datetime(until)
        waiting.filter(Q(hold_until__isnull=True) | Q(hold_until__lt=later)).update(
            hold_until=later, updated_at=now
        )
        _refresh(rows)
        return []
    words = _cached_words(account) if kind != Kind.VERIFICATION else []
    found = blocked_words(first.content, kind, account, words)
    if found:
        rollup.touched_where(waiting)
        webhook_events.update_messages(
            waiting,
            Status.FAILED,
            error_message=BLOCKED_LATER % {"words": ", ".join(found)},
            updated_at=now,
        )
        _refresh(rows)
        return []
    capped = _over_daily_cap([r.mobile for r in rows], kind, account, submitted=True, now=out)
    if capped:
        over = waiting.filter(mobile__in=capped)
        rollup.touched_where(over)
        over.update(status=Status.SUPPRESSED, error_message=CAPPED_TEXT, updated_at=now)
        _refresh([r for r in rows if r.mobile in capped])
    return [r for r in rows if r.mobile not in capped]


class one_dispatch:
    """Within the block, :func:`at_submit` reads each account's learned words once (and
    again after this process learns one), not once per request.

    A class, not ``@contextlib.contextmanager``: the mutation run skips decorated
    functions (docs/testing.rst)."""

    def __enter__(self) -> None:
        self._token = _dispatch_words.set({})

    def __exit__(self, *exc_info: object) -> None:
        _dispatch_words.reset(self._token)


_dispatch_words: contextvars.ContextVar[dict[str, tuple[int, list[str]]] | None] = (
    contextvars.ContextVar("xunchen_dispatch_words", default=None)
)


def may_route(rows: Sequence[Message], account: str, now: dt.datetime) -> bool:
    """Whether claimed ``rows`` may go out through ``account`` instead of their own (a
    fallback, after their own account certainly did not send them): the rules once more,
    with that account's quiet hours, learned words, daily cap and monthly spending cap
    (the rows' parts counted on it). When it may not, the rows go back to the queue, and
    the next submit gives them their state."""
    first = rows[0]
    kind = first.kind
    expiries = (from_db_datetime(r.expires_at) for r in rows)
    if any(at is not None and at <= now for at in expiries):
        return False
    if suppressed([r.mobile for r in rows], kind):
        return False
    if without_consent([r.mobile for r in rows], kind, account):
        return False
    out = _goes_out(first, now)
    if hold(kind, account, out) is not None:
        return False
    words = _cached_words(account) if kind != Kind.VERIFICATION else []
    if blocked_words(first.content, kind, account, words):
        return False
    ids = {r.pk for r in rows}
    mobiles = [r.mobile for r in rows]
    if _over_daily_cap(mobiles, kind, account, submitted=True, now=out, excluding=ids):
        return False
    return not _over_monthly_cap(rows, account)


def _cached_words(account: str) -> list[str] | None:
    cache = _dispatch_words.get()
    if cache is None:
        return None
    generation = policy.learned_generation()
    entry = cache.get(account)
    if entry is None or entry[0] != generation:
        entry = cache[account] = (generation, learned_words(account))
    return entry[1]


def claimable(
    rows: QuerySet[Message], kind: str, now: dt.datetime, account: str
) -> QuerySet[Message]:
    """The rows of ``rows`` (of ``kind``, on ``account``) that may be claimed now: still
    ``queued``, not expired, not held, not suppressed, with consent where the account
    requires it. Part of the claim's own statement, so that an opt-out, a withdrawal or
    another claimer between the check and the claim is seen."""
    claim = (
        rows.filter(status_is(Status.QUEUED))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(Q(hold_until__isnull=True) | Q(hold_until__lte=now))
    )
    listed = _suppressed_filter(kind)
    if listed is not None:
        claim = claim.exclude(listed)
    if needs_consent(kind, account):
        claim = claim.filter(consent.granted_filter())
    return claim


def expire(ids: Sequence[int], now: dt.datetime) -> int:
    """Mark the ``queued`` rows among ``ids`` whose expiry has passed ``expired``."""
    expiring = Message.objects.filter(
        one_of(Message, "id", ids), status_is(Status.QUEUED), expires_at__lte=now
    )
    rollup.touched_where(expiring)
    return expiring.update(status=Status.EXPIRED, updated_at=now)


def suppress_unclaimed(ids: Sequence[int], kind: str, now: dt.datetime, account: str) -> int:
    """Mark the ``queued`` rows among ``ids`` (that the claim left) ``suppressed`` whose
    number went on the suppression list after they were written, or has no consent
    where ``account`` requires it."""
    listed = _suppressed_filter(kind)
    if listed is None or not ids:
        return 0
    left = Message.objects.filter(one_of(Message, "id", ids), status_is(Status.QUEUED))
    opted_out = left.filter(listed)
    rollup.touched_where(opted_out)
    done = opted_out.update(
        status=Status.SUPPRESSED, error_message=SUPPRESSED_LATER, updated_at=now
    )
    if needs_consent(kind, account):
        unconsented = left.exclude(consent.granted_filter())
        rollup.touched_where(unconsented)
        done += unconsented.update(
            status=Status.SUPPRESSED, error_message=NO_CONSENT_LATER, updated_at=now
        )
    return done


# --------------------------------------------------------------------------- helpers


def _due(row: Message) -> dt.datetime | None:
    held = from_db_datetime(row.hold_until)
    scheduled = from_db_datetime(row.send_at)
    return max((t for t in (held, scheduled) if t is not None), default=None)


def _goes_out(row: Message, now: dt.datetime) -> dt.datetime:
    """When a row submitted at ``now`` goes out: at once, or at its ``send_at`` if that
    is still to come (the gateway holds it)."""
    due = _due(row)
    if due is None or due <= from_db_datetime(now):
        return now
    return due


def _groups(rows: Sequence[Message]) -> Iterable[tuple[str, str, list[Message]]]:
    groups: dict[tuple[str, str], list[Message]] = {}
    for row in rows:
        groups.setdefault((row.kind, row.account), []).append(row)
    for (kind, account), group in groups.items():
        yield kind, account, group


def _suppressed_filter(kind: str) -> Exists | None:
    return policy.suppressed_filter(kind)


def _over_daily_cap(
    mobiles: Sequence[str],
    kind: str,
    account: str,
    *,
    submitted: bool = False,
    now: dt.datetime | None = None,
    excluding: set[int] | None = None,
) -> set[str]:
    """Numbers that already have their ``MARKETING_DAILY_CAP`` of marketing on the day of
    ``now`` (today by default; China Standard Time). A message counts on the day it goes
    out: when its request was claimed, or at its ``send_at`` when the gateway holds it
    until then. At write, those that went out or may have, and those still waiting that
    are due by the end of the day (the later of their hold and ``send_at``); not those
    suppressed, failed, cancelled or expired. At submit (``submitted``), those that went out or may
    have (``sending``, ``unknown`` and after), not counting the ones being submitted."""
    cap = policy.daily_cap(account) if kind == Kind.MARKETING else None
    if cap is None or not mobiles:
        return set()
    start = gateway_day_start(now)
    day = (to_db_datetime(start), to_db_datetime(start + dt.timedelta(days=1)))
    found = Message.objects.filter(mobile__in=set(mobiles), kind=Kind.MARKETING).alias(
        went_out_at=_later("send_at", Coalesce("requested_at", "submitted_at"), "created_at"),
        waits_until=_later("send_at", "hold_until", "created_at"),
    )
    counted = Q(status__in=WENT_OUT, went_out_at__gte=day[0], went_out_at__lt=day[1])
    if submitted:
        found = found.filter(counted)
        if excluding:
            found = found.exclude(pk__in=excluding)
    else:
        waiting = Q(status=Status.QUEUED, waits_until__lt=day[1])
        found = found.filter(counted | waiting)
    counts = found.values("mobile").annotate(n=Count("pk")).values_list("mobile", "n")
    return {mobile for mobile, n in counts if n >= cap}


def _later(first: str, second: str | Coalesce, otherwise: str) -> Greatest:
    """The later of two nullable values, either when the other is null, else
    ``otherwise`` (``Greatest`` alone is null on SQLite if either is)."""
    return Greatest(Coalesce(first, second, otherwise), Coalesce(second, first, otherwise))


def _over_monthly_cap(rows: Sequence[Message], account: str) -> bool:
    """Whether ``rows`` moved to ``account`` would take it over its ``MONTHLY_CAP``."""
    cap = policy.monthly_cap(account)
    if cap is None:
        return False
    count = policy.part_counter(account)
    needed = policy.price_per_part(account) * sum(count(r.content) for r in rows)
    return policy.month_spend(account) + needed > cap


#: Statuses of a message that went out, or may have.
WENT_OUT = [Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN]


def _refresh(rows: Sequence[Message]) -> None:
    """Bring the in-memory rows in line with what was just written."""
    fresh = {
        pk: values
        for pk, *values in Message.objects.filter(pk__in=[r.pk for r in rows]).values_list(
            "pk", "status", "error_message", "hold_until", "updated_at"
        )
    }
    for row in rows:
        if row.pk in fresh:
            row.status, row.error_message, row.hold_until, row.updated_at = fresh[row.pk]
