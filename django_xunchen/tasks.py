"""Background sending on Django's Tasks framework (DEP 14): ``django.tasks`` on Django 6,
the ``django-tasks`` backport on 5.2 (``pip install django-xunchen[tasks]``).

The database stays the source of truth, as in every other path: a task carries message
ids, never texts, and :func:`~django_xunchen.dispatch.dispatch` claims each row exactly
once, so a task that runs twice, or on two workers at once, cannot send a row twice. A
worker killed mid-request leaves that request's rows ``sending``; the sweep in
:func:`tick` (or ``send_queued``) marks them ``unknown`` and sends whatever is still
``queued``.

The framework has no retries and no periodic tasks:

- a request that certainly did not go out leaves its rows ``queued``; :func:`send_messages`
  enqueues itself again for them with ``run_after`` and exponential backoff, up to
  ``TASK_RETRIES`` times, after which ``tick``/``send_queued`` pick them up;
- :func:`tick` does what cron does (``send_queued``: held messages now due, rows no task
  is coming for, expiry, the stale sweep; and ``poll``), gives a campaign file whose
  check lost its worker to a new :func:`check_campaign_file` task, and enqueues itself
  again ``TICK_SECONDS`` later. One chain runs at a time (a row in the lock table says when the
  next tick is due); it is started by the first background send, by ``manage.py
  sms_tasks --start``, and again by any background send or send task after a worker
  died with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from . import signals
from .campaigns import checking
from .campaigns.advance import advance
from .conf import xunchen_settings
from .db import from_db_datetime, one_of, status_is
from .dispatch.queue import send_queued
from .dispatch.submit import Backends, dispatch
from .models import Message, PollLock
from .operations.alerts import watch
from .polling.run import poll
from .webhooks import delivery as webhooks

#: Why a background send cannot be enqueued on this install.
NO_ENGINE = (
    "background sending needs Django 6, or the django-tasks backport: "
    "pip install django-xunchen[tasks]"
)

try:  # Django 6
    from django.tasks import task, task_backends
except ImportError:  # Django 5.2: the backport
    try:
        from django_tasks import task, task_backends
    except ImportError:  # neither: sending works, in the caller's process only
        task = task_backends = None


class _NoEngine:
    """A task where no task framework is installed: using it raises ImportError, which
    callers that can send in their own process instead (campaigns) catch."""

    def __init__(self, func: Any) -> None:
        self.func = func
        self.name = func.__name__

    def __getattr__(self, name: str) -> Any:
        raise ImportError(NO_ENGINE)


def _task(func: Any) -> Any:
    return task(func) if task is not None else _NoEngine(func)


logger = logging.getLogger("django_xunchen.tasks")
TICK_LOCK = "django_xunchen.tick"
#: Message ids per task: small enough that a retry redoes little, large enough that a
#: 100,000-number send is 100 tasks.
IDS_PER_TASK = 1000


def queue_for(kind: str) -> str:
    conf = xunchen_settings()
    return conf["CODES_TASK_QUEUE"] if kind == Message.Kind.VERIFICATION else conf["TASK_QUEUE"]


def enqueue_send(rows: Sequence[Message]) -> None:
    """Enqueue the sending of saved ``queued`` rows, after the current transaction
    commits (a rolled-back row never reaches a worker). Raises :class:`ImportError`
    where no task framework is installed."""
    if task is None:
        raise ImportError(NO_ENGINE)
    ids = [r.pk for r in rows if r.status == Message.Status.QUEUED]
    if not ids:
        return
    queue = queue_for(rows[0].kind)

    def enqueue() -> None:
        for start in range(0, len(ids), IDS_PER_TASK):
            send_messages.using(queue_name=queue).enqueue(ids[start : start + IDS_PER_TASK])
        ensure_ticking()

    transaction.on_commit(enqueue)


@_task
def send_messages(message_ids: list[int], attempt: int = 0) -> dict[str, int]:
    """Send the rows among ``message_ids`` still ``queued``; enqueue a retry for those a
    certainly-not-sent error left ``queued``."""
    rows = list(
        Message.objects.filter(
            one_of(Message, "id", message_ids), status_is(Message.Status.QUEUED)
        ).select_related("template")
    )
    outcome = dispatch(rows, Backends())
    now = timezone.now()
    left = [
        r.pk
        for r in rows
        if r.status == Message.Status.QUEUED
        and not (r.hold_until and from_db_datetime(r.hold_until) > now)
    ]
    retries = int(xunchen_settings()["TASK_RETRIES"])
    if left and attempt < retries and can_defer():
        delay = min(60 * 2**attempt, 3600)
        send_messages.using(
            queue_name=queue_for(rows[0].kind), run_after=now + dt.timedelta(seconds=delay)
        ).enqueue(left, attempt + 1)
        logger.warning(
            "%d messages not sent (attempt %d); retrying in %d s", len(left), attempt + 1, delay
        )
    if any(r.campaign_id for r in rows):
        advance()
    watch()
    ensure_ticking()
    return {"sent": outcome.sent, "requests": outcome.requests, "left": len(left)}


def enqueue_check(campaign_id: int) -> bool:
    """Enqueue the check of a campaign's uploaded file after the current transaction
    commits. False where no task engine defers work (none installed, or Django's
    ImmediateBackend, which would check the file in the upload's request): cron's
    ``send_queued`` checks it then."""
    if not can_defer():
        return False

    def enqueue() -> None:
        check_campaign_file.using(queue_name=xunchen_settings()["TASK_QUEUE"]).enqueue(campaign_id)
        ensure_ticking()

    transaction.on_commit(enqueue)
    return True


@_task
def check_campaign_file(campaign_id: int) -> str:
    """Check a campaign's uploaded file, unless a live process already does
    (:func:`django_xunchen.campaigns.checking.run`)."""
    return checking.run(campaign_id)


@_task
def tick() -> dict[str, Any]:
    """What cron would do: ``send_queued`` and ``poll``; a new check task for each
    campaign file whose check lost its worker; then the next tick."""
    # Rows younger than ORPHANED_AFTER are left to their send tasks, which spread a batch
    # over the workers (the tick would send it serially).
    counts = send_queued(idle_for=float(xunchen_settings()["ORPHANED_AFTER"]))
    result = poll()
    watch()
    if task is not None:  # the due retries, in a task: a slow receiver never holds the tick
        deliver_webhooks.using(queue_name=webhook_queue()).enqueue()
    checks = checking.hand_over()
    for campaign_id in checks:
        check_campaign_file.using(queue_name=xunchen_settings()["TASK_QUEUE"]).enqueue(campaign_id)
    _schedule_next(force=True)
    return {
        **counts,
        "poll": result.summary(),
        "poll_ok": result.ok,
        "checks": len(checks),
    }


def webhook_queue() -> str:
    return xunchen_settings()["TASK_QUEUE"]


@receiver(signals.webhook_events_recorded, dispatch_uid="django_xunchen.tasks.webhooks")
def _deliver_recorded(sender: Any, **kwargs: Any) -> None:
    """Deliver new events in a task where the engine defers work; elsewhere the next
    tick, ``send_queued``, ``poll_sms`` or ``sms_webhooks`` does (a poll never waits for
    a receiver)."""
    if can_defer():
        deliver_webhooks.using(queue_name=webhook_queue()).enqueue()
        ensure_ticking()


@_task
def deliver_webhooks() -> str:
    """Hand out the recorded webhook events and send the due deliveries; enqueue itself
    again at once while a batch was full."""
    return run_webhooks()


def run_webhooks() -> str:
    """:func:`django_xunchen.webhooks.delivery.run`, never raising: a failure is logged and
    the next run goes on."""
    try:
        result = webhooks.run()
    except Exception as exc:  # a receiver or the database must not break the tick
        logger.warning("the webhooks could not be delivered: %s", exc, exc_info=True)
        return "failed"
    if result.more and can_defer():
        deliver_webhooks.using(queue_name=webhook_queue()).enqueue()
    return result.summary()


def can_defer() -> bool:
    """Whether the task backend runs tasks later (``run_after``). Django's
    ImmediateBackend runs them at once and cannot: then there are no retries and no tick,
    and cron runs ``send_queued`` and ``poll_sms`` as without tasks."""
    if task_backends is None:
        return False
    return bool(getattr(task_backends["default"], "supports_defer", False))


def ensure_ticking() -> bool:
    """Start the tick chain unless one is due; True if this call started it."""
    return _schedule_next(force=False)


def _schedule_next(force: bool) -> bool:
    if not can_defer():
        return False
    interval = dt.timedelta(seconds=float(xunchen_settings()["TICK_SECONDS"]))
    now = timezone.now()
    due = now + interval
    with transaction.atomic():
        row, created = PollLock.objects.select_for_update().get_or_create(
            name=TICK_LOCK,
            defaults={"owner": "tick", "acquired_at": now, "expires_at": due + interval},
        )
        if not created:
            if not force and row.expires_at > now:
                return False  # a tick is due: the chain is alive
            row.acquired_at, row.expires_at = now, due + interval
            row.save(update_fields=["acquired_at", "expires_at"])
    tick.using(queue_name=xunchen_settings()["TASK_QUEUE"], run_after=due).enqueue()
    return True
