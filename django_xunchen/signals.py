"""Signals a host project can listen to.

All are sent after the transaction that stored the row commits, so a receiver never sees a
row that is rolled back. They are sent with ``send_robust``: a receiver that raises is
logged (logger ``django_xunchen.signals``) and does not break sending or polling.

``message_sent(sender=Message, message)``
    The gateway accepted ``message`` (status ``sent``, ``msgid`` set).

``message_failed(sender=Message, message, error)``
    The gateway refused ``message`` (status ``failed``: ``error`` is the
    :class:`~django_xunchen.exceptions.GatewayError`), or the outcome of its request is
    unknown (status ``unknown``: ``error`` is an
    :class:`~django_xunchen.exceptions.OutcomeUnknownError`). Not sent when the request
    certainly did not go out: the message is back in ``queued``.

``report_received(sender=Report, report, message, delivered)``
    A delivery report was stored. ``message`` is the matched
    :class:`~django_xunchen.models.Message`, or ``None`` while it is an orphan.

``reports_received(sender=Report, reports)``
    A batch of up to 1,000 stored delivery reports (a list, in the order the gateway
    gave them, each with its ``message`` loaded or ``None``). For receivers that write
    in bulk; sent before the ``report_received`` of the same reports.

``report_matched(sender=Report, report, message, delivered)``
    An orphan report was matched to its message on a later poll.

``inbound_received(sender=InboundMessage, inbound, message)``
    A reply was stored. ``message`` is the message it answers, or ``None``.

``opted_out(sender=Suppression, mobile, suppression, reply)``
    A number went on the suppression list: a 退订 reply (``reply`` is the
    InboundMessage), bounces, staff or an import (``reply`` is ``None``).

``opted_in(sender=Suppression, mobile, reply)``
    A number came off the list: a 订阅 reply, or staff.

``campaign_started(sender=Campaign, campaign)``
    A campaign began to send, once in its life: confirmed to send now, its ``send_at``
    came (it is ``running`` from the first tick, ``send_queued`` or poll after that), or
    resumed before it had ever started.

``campaign_finished(sender=Campaign, campaign)``
    A running campaign has nothing left queued or sending: it is ``done``. Sent once, by
    whichever process noticed first; not for a cancelled campaign.

``low_balance(sender=AccountBalance, account, balance, threshold)``
    A balance check found ``account``'s balance (a ``Decimal``) below its
    ``LOW_BALANCE``: once per crossing, not on every check, until it is back above.

``health_alert(sender=HealthAlert, check)``
    A health check crossed into critical: spool files or journal entries were set aside
    (``check.name`` is ``spool_set_aside`` or ``journal_set_aside``). Once per crossing.

``delivery_degraded(sender=HealthAlert, account, degradation)``
    The delivery alarm found a channel of ``account`` degraded: its messages to one
    carrier or one province (by allocation) submitted 15 to 75 minutes ago were
    delivered at less than ``HEALTH["DEGRADED_FRACTION"]`` of its rate over the 7 days
    before, or their p90 report latency is above ``HEALTH["DEGRADED_P90_SECONDS"]``.
    ``degradation`` is a :class:`~django_xunchen.analytics.alarm.Degradation`
    (``dimension`` ``"carrier"`` or ``"province"``, ``value`` its code, ``rate``,
    ``baseline``, ``messages``, ``p90``, ``detail``). Once per crossing, for each
    channel, until it is no longer degraded.

``consent_granted(sender=Consent, mobile, consent)``
    A consent entry granting ``consent.scope`` was written: a web form, the double
    opt-in view, a 订阅 reply, an import (once per row), staff or the API.

``consent_withdrawn(sender=Consent, mobile, consent)``
    A withdrawal was written: a 退订 reply, a number put on the suppression list (a
    withdrawal for each scope it had consented to), staff or the API.

``webhook_events_recorded(sender=WebhookEvent)``
    Webhook events were recorded, or deliveries replayed (after the commit). The app's
    own receiver enqueues their delivery where a task engine defers work; a host with
    its own scheduler can start :func:`django_xunchen.webhooks.delivery.run` from it.

Verification codes (:mod:`django_xunchen.verification`), sent at once, with
``sender=VerificationCode``. None of them carries the code.

``code_requested(mobile, purpose, message)``
    A code SMS was sent (``message`` is its Message, with the code masked).

``code_throttled(mobile, purpose, ip, reason, retry_after)``
    A request was refused by a throttle: ``reason`` is ``cooldown``, ``hourly``,
    ``daily``, ``ip``, ``prefix`` or ``volume``.

``code_verified(mobile, purpose)``
    A right code was checked (and used up).

``code_failed(mobile, purpose, reason)``
    A check failed: ``wrong``, ``expired``, ``too_many_attempts`` or ``no_code``.

``code_volume_alarm(volume, threshold)``
    Today's code volume reached ``DAILY_ALARM``: SMS pumping? Sent on every request at
    or above it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("django_xunchen.signals")

message_sent = Signal()
message_failed = Signal()
report_received = Signal()
reports_received = Signal()
report_matched = Signal()
inbound_received = Signal()
opted_out = Signal()
opted_in = Signal()
code_requested = Signal()
code_throttled = Signal()
code_verified = Signal()
code_failed = Signal()
code_volume_alarm = Signal()
campaign_started = Signal()
campaign_finished = Signal()
low_balance = Signal()
health_alert = Signal()
delivery_degraded = Signal()
consent_granted = Signal()
consent_withdrawn = Signal()
webhook_events_recorded = Signal()


def send_robust_logged(signal: Signal, sender: type, **kwargs: Any) -> None:
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "signal receiver %r raised",
                receiver,
                exc_info=(type(result), result, result.__traceback__),
            )


def send_on_commit(events: Iterable[tuple[Signal, type, dict[str, Any]]], using=None) -> None:
    """Send each ``(signal, sender, kwargs)`` once the current transaction commits."""
    events = list(events)
    if not events:
        return

    def fire() -> None:
        for signal, sender, kwargs in events:
            send_robust_logged(signal, sender, **kwargs)

    transaction.on_commit(fire, using=using)
