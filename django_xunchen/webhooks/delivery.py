"""Delivering events: hand each new event to the endpoints that want it, POST the due
deliveries (signed), retry with backoff, and disable an endpoint that failed for
``WEBHOOKS["DISABLE_AFTER"]`` seconds.

:func:`run` does it all. It is started after the commit that recorded events (a task
where a task engine defers work: the ``webhook_events_recorded`` signal), and by the
tick, ``send_queued``, ``poll_sms`` and ``manage.py sms_webhooks`` (cron), so a lost
task only delays a delivery. Two runs at once never send one delivery twice at the same
moment: each delivery is claimed by a conditional UPDATE (a lease) before its POST.

A delivery is at least once: a process killed between the receiver's 2xx and the
row's update sends it again when its lease ends. Receivers deduplicate by event id.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from .. import signals, stopping
from ..conf import webhook_settings
from ..models import WebhookAttempt, WebhookDelivery, WebhookEvent
from . import addresses, endpoints, payloads, signing
from .events import collecting

logger = logging.getLogger("django_xunchen.webhooks")
Status = WebhookDelivery.Status
#: Events handed to their endpoints per transaction.
HAND_OUT_BATCH = 1000
#: The longest wait between two attempts of a delivery; also how late, at most, an
#: attempt scheduled inside the retry window may still go (a run is due every minute or
#: so), after which a delivery never attempted in its window is given up.
MAX_BACKOFF = 3600
GRACE = dt.timedelta(seconds=MAX_BACKOFF)


@dataclass
class RunResult:
    handed_out: int = 0
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0
    disabled: int = 0
    more: bool = False

    def summary(self) -> str:
        return (
            f"{self.handed_out} events handed out, {self.delivered} delivered, "
            f"{self.failed} attempts failed, {self.gave_up} given up, "
            f"{self.disabled} endpoints disabled"
        )


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, doubling, at most an
    hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def run(now: dt.datetime | None = None) -> RunResult:
    """Hand out new events, then send the due deliveries (at most
    ``WEBHOOKS["BATCH"]``); ``more`` says a batch was full."""
    result = RunResult()
    result.gave_up += expire(now)
    while True:
        handed = hand_out(now)
        result.handed_out += handed
        if handed < HAND_OUT_BATCH:
            break
    send_due(result, now)
    return result


def expire(now: dt.datetime | None = None) -> int:
    """Give up the pending deliveries whose retry window ended without an attempt (their
    endpoint was failing or disabled meanwhile). Returns how many."""
    now = now or timezone.now()
    return (
        WebhookDelivery.objects.filter(status=Status.PENDING, retry_until__lt=now - GRACE)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(status=Status.GAVE_UP, next_attempt_at=None)
    )


def hand_out(now: dt.datetime | None = None) -> int:
    """Build the payload of up to :data:`HAND_OUT_BATCH` new events and create a delivery
    for each enabled endpoint that wants it. Returns how many events."""
    now = now or timezone.now()
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(handed_out_at__isnull=True)
            .order_by("pk")[:HAND_OUT_BATCH]
        )
        if not events:
            return 0
        targets = list(collecting())
        retry_for = dt.timedelta(seconds=float(webhook_settings()["RETRY_FOR"]))
        data = payloads.objects(events)
        deliveries = []
        for event in events:
            event.event_id = uuid.uuid4()
            event.payload = payloads.envelope(event, data[event.pk])
            event.handed_out_at = now
            deliveries += [
                WebhookDelivery(
                    event=event, endpoint=target, next_attempt_at=now, retry_until=now + retry_for
                )
                for target in targets
                if endpoints.wants(target, event.type, data[event.pk])
            ]
        WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000, ignore_conflicts=True)
        WebhookEvent.objects.bulk_update(
            events, ["event_id", "payload", "handed_out_at"], batch_size=200
        )
    return len(events)


def send_due(result: RunResult | None = None, now: dt.datetime | None = None) -> RunResult:
    """POST the due deliveries of enabled endpoints, oldest first, at most
    ``WEBHOOKS["BATCH"]``. An endpoint that fails is left alone for the rest of the run
    (its other deliveries wait for their time), and never holds up the others: the due
    deliveries are read again without it."""
    result = result or RunResult()
    conf = webhook_settings()
    now = now or timezone.now()
    batch = int(conf["BATCH"])
    failing: set[int] = set()
    tried = 0
    while tried < batch:
        due = list(
            _due(now)
            .exclude(endpoint_id__in=failing)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", "endpoint_id")[: batch - tried]
        )
        progressed = False
        for pk, endpoint_id in due:
            if stopping.requested():
                result.more = True
                return result
            delivery = _claim(pk, conf)
            if delivery is None:
                continue  # another run took it
            tried += 1
            progressed = True
            if not attempt(delivery, conf, result):
                failing.add(endpoint_id)
                break
        else:
            if not progressed:
                return result
    result.more = _due(now).exclude(endpoint_id__in=failing).exists()
    return result


def _due(now: dt.datetime) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        Q(retry_until__isnull=True) | Q(retry_until__gte=now - GRACE),
        status=Status.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    )


def _claim(pk: int, conf: dict[str, Any]) -> WebhookDelivery | None:
    now = timezone.now()
    lease = dt.timedelta(seconds=3 * float(conf["TIMEOUT"]) + 30)
    claimed = (
        WebhookDelivery.objects.filter(pk=pk, status=Status.PENDING, endpoint__is_active=True)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease)
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("event", "endpoint").get(pk=pk)


def attempt(
    delivery: WebhookDelivery, conf: dict[str, Any] | None = None, result: RunResult | None = None
) -> bool:
    """POST ``delivery`` once (claimed by the caller), log the attempt and move the
    delivery on. True if the endpoint answered 2xx."""
    conf = conf or webhook_settings()
    result = result or RunResult()
    event, endpoint = delivery.event, delivery.endpoint
    data = payloads.body(event.payload or payloads.envelope(event, None))
    headers = {
        signing.SIGNATURE_HEADER: signing.header(endpoint.secret, data),
        signing.EVENT_HEADER: event.type,
        signing.EVENT_ID_HEADER: str(event.event_id),
    }
    started = time.monotonic()
    status, answer, error = None, b"", ""
    try:
        response = addresses.post(
            endpoint.url,
            data,
            headers,
            timeout=float(conf["TIMEOUT"]),
            max_bytes=int(conf["MAX_RESPONSE_BYTES"]),
            allow_private=bool(conf["ALLOW_PRIVATE_ADDRESSES"]),
        )
        status, answer = response.status, response.body
    except (addresses.UnsafeURLError, addresses.DeliveryError) as exc:
        error = str(exc)
    took = int((time.monotonic() - started) * 1000)
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}"
    now = timezone.now()
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status,
            error=_text(error),
            response=_text(answer[:500].decode("utf-8", "replace")),
            duration_ms=took,
            replay=delivery.replayed_at is not None,
        )
        delivery.attempts += 1
        delivery.lease_until = None
        delivery.last_status_code = status
        delivery.last_error = _text(error)
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                Status.DELIVERED,
                now,
                None,
            )
            result.delivered += 1
            endpoints.succeeded(endpoint.pk)
        else:
            result.failed += 1
            following = now + backoff(delivery.attempts)
            if delivery.retry_until is not None and following > delivery.retry_until:
                # One last attempt at the end of the window, then none.
                following = delivery.retry_until
            if delivery.retry_until is not None and now >= delivery.retry_until:
                delivery.status, delivery.next_attempt_at = Status.GAVE_UP, None
                result.gave_up += 1
            else:
                delivery.next_attempt_at = following
            endpoints.failed(endpoint.pk, now)
        delivery.save(
            update_fields=[
                "attempts",
                "lease_until",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    if not ok:
        logger.warning(
            "webhook %s to endpoint %s (%s) failed, attempt %d: %s",
            event.event_id,
            endpoint.pk,
            endpoint.name,
            delivery.attempts,
            error,
        )
        if endpoints.disable_if_failing(endpoint.pk, now, float(conf["DISABLE_AFTER"])):
            result.disabled += 1
    return ok


def replay(deliveries: Any) -> int:
    """Deliver these deliveries' events again, with the same event ids and bodies, as
    soon as the next run: a new retry window starts. A delivery being sent right now is
    left alone. Returns how many."""
    now = timezone.now()
    retry_for = dt.timedelta(seconds=float(webhook_settings()["RETRY_FOR"]))
    idle = deliveries.filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    count = idle.update(
        status=Status.PENDING,
        next_attempt_at=now,
        retry_until=now + retry_for,
        lease_until=None,
        delivered_at=None,
        replayed_at=now,
    )
    if count:
        transaction.on_commit(
            lambda: signals.send_robust_logged(signals.webhook_events_recorded, WebhookEvent)
        )
    return count


def _text(value: str) -> str:
    """What the log keeps of an answer or an error: 500 characters, without the NUL
    that PostgreSQL refuses in a text column (a receiver's answer may hold one)."""
    return value.replace("\x00", "")[:500]


__all__ = [
    "RunResult",
    "attempt",
    "backoff",
    "expire",
    "hand_out",
    "replay",
    "run",
    "send_due",
]
