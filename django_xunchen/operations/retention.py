"""Deleting old rows in short batches: ``manage.py sms_cleanup``.

Each batch is its own transaction of at most ``batch_size`` rows, chosen by an index, so
that no lock is held for long and sending and polling go on meanwhile. Nothing that
still matters is touched: messages queued or sending, journal entries not yet ingested
(pending, salvaged, set aside), campaigns not finished, and the verification records and
throttle events that a throttle still counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from ..conf import retention_settings, xunchen_settings
from ..httpapi.idempotency import WINDOW
from ..models import (
    ApiRateWindow,
    ApiRequest,
    Campaign,
    CampaignRecipient,
    IdempotencyRecord,
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    ThrottleBucket,
    ThrottleEvent,
    VerificationCode,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)

#: Rows per batch (per transaction).
BATCH_SIZE = 1000

#: What ``sms_cleanup`` prunes, in this order.
WHAT = (
    "messages",
    "campaigns",
    "verification_codes",
    "throttle_events",
    "poll_journal",
    "api_requests",
    "webhook_events",
)


@dataclass
class Pruned:
    """Rows deleted (or, in a dry run, that would be) per model, and the batches."""

    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def add(self, label: str, n: int) -> None:
        if n:
            self.counts[label] = self.counts.get(label, 0) + n


def ages() -> dict[str, int | None]:
    """Days to keep, per part of :data:`WHAT` (``None``: keep for ever)."""
    conf = retention_settings()
    return {
        "messages": conf["MESSAGES"],
        "campaigns": conf["CAMPAIGNS"],
        "verification_codes": conf["VERIFICATION_CODES"],
        "throttle_events": conf["THROTTLE_EVENTS"],
        "poll_journal": xunchen_settings()["JOURNAL_RETENTION_DAYS"],
        "api_requests": conf["API_REQUESTS"],
        "webhook_events": conf["WEBHOOK_EVENTS"],
    }


def prune(
    *,
    only: tuple[str, ...] = WHAT,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Pruned:
    """Delete what is older than its age in :func:`ages`. ``progress(label, n)`` is
    called after each batch."""
    unknown = set(only) - set(WHAT)
    if unknown:
        raise ValueError(f"cannot prune {', '.join(sorted(unknown))}; choose from {WHAT}")
    if type(batch_size) is not int or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, not {batch_size!r}")
    now = now or timezone.now()
    result = Pruned()
    for what, days in ages().items():
        if what not in only or days is None:
            continue
        cutoff = now - dt.timedelta(days=days)
        for label, queryset, delete in _parts(what, cutoff, now):
            for n in _batches(queryset, delete, batch_size, dry_run):
                result.add(label, n)
                result.batches += 1
                if progress:
                    progress(label, n)
    return result


Deleter = Callable[[list[int]], int]


def _parts(
    what: str, cutoff: dt.datetime, now: dt.datetime
) -> Iterator[tuple[str, QuerySet, Deleter]]:
    if what == "messages":
        old = Message.objects.filter(created_at__lt=cutoff).exclude(
            status__in=[Message.Status.QUEUED, Message.Status.SENDING]
        )
        yield "messages", old, _delete_messages
        yield (
            "reports",
            Report.objects.filter(message__isnull=True, received_at__lt=cutoff),
            _plain(Report),
        )
        yield (
            "replies",
            InboundMessage.objects.filter(message__isnull=True, stored_at__lt=cutoff),
            _plain(InboundMessage),
        )
    elif what == "campaigns":
        finished = Campaign.objects.filter(
            state__in=[Campaign.State.DONE, Campaign.State.CANCELLED],
            finished_at__lt=cutoff,
        ).exclude(messages__status__in=[Message.Status.QUEUED, Message.Status.SENDING])
        yield "campaigns", finished, _delete_campaigns
    elif what == "verification_codes":
        yield (
            "verification codes",
            VerificationCode.objects.filter(created_at__lt=cutoff),
            _plain(VerificationCode),
        )
    elif what == "throttle_events":
        yield "throttle events", ThrottleEvent.objects.filter(at__lt=cutoff), _plain(ThrottleEvent)
        yield (
            "throttle buckets",
            ThrottleBucket.objects.filter(
                Q(blocked_until__isnull=True) | Q(blocked_until__lt=cutoff)
            ),
            _plain(ThrottleBucket),
        )
    elif what == "api_requests":
        yield "API requests", ApiRequest.objects.filter(at__lt=cutoff), _plain(ApiRequest)
        done_with = now - max(WINDOW, dt.timedelta(days=1))
        yield (
            "idempotency records",
            IdempotencyRecord.objects.filter(created_at__lt=done_with),
            _plain(IdempotencyRecord),
        )
        yield (
            "API rate windows",
            ApiRateWindow.objects.filter(minute__lt=done_with),
            _plain(ApiRateWindow),
        )
    elif what == "webhook_events":
        done = WebhookEvent.objects.filter(
            occurred_at__lt=cutoff, handed_out_at__isnull=False
        ).exclude(deliveries__status=WebhookDelivery.Status.PENDING)
        yield "webhook events", done, _delete_webhook_events
    elif what == "poll_journal":
        yield (
            "poll journal entries",
            PollJournalEntry.objects.filter(
                state=PollJournalEntry.State.DONE, ingested_at__lt=cutoff
            ),
            _plain(PollJournalEntry),
        )


def _batches(queryset: QuerySet, delete: Deleter, size: int, dry_run: bool) -> Iterator[int]:
    if dry_run:
        n = queryset.count()
        if n:
            yield n
        return
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:size])
            if not ids:
                return
            n = delete(ids)
        yield n
        if len(ids) < size:
            return


def _plain(model: type[Model]) -> Deleter:
    def delete(ids: list[int]) -> int:
        return model._default_manager.filter(pk__in=ids).delete()[0]

    return delete


def _delete_webhook_events(ids: list[int]) -> int:
    """The events with their deliveries and every attempt of them."""
    WebhookAttempt.objects.filter(delivery__event_id__in=ids).delete()
    WebhookDelivery.objects.filter(event_id__in=ids).delete()
    return WebhookEvent.objects.filter(pk__in=ids).delete()[0]


def _delete_messages(ids: list[int]) -> int:
    """The messages with their reports and replies; rows that point at them (resends,
    campaign rows, verification records, learned words) keep the rest of their data."""
    Report.objects.filter(message_id__in=ids).delete()
    InboundMessage.objects.filter(message_id__in=ids).only("pk").delete()
    deleted = Message.objects.filter(pk__in=ids).only("pk").delete()[1]
    return deleted.get(Message._meta.label, 0)


def _delete_campaigns(ids: list[int]) -> int:
    """The campaigns with their rows (and any file chunks); their messages stay, under
    the messages' own age, no longer tied to a campaign."""
    CampaignRecipient.objects.filter(campaign_id__in=ids).delete()
    return Campaign.objects.filter(pk__in=ids).delete()[1].get(Campaign._meta.label, 0)
