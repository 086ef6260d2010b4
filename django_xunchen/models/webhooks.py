"""Signed webhooks: the endpoints staff register, the events the app records for them in
the transaction that changed a row, each endpoint's delivery of an event, and every
attempt at it (:mod:`django_xunchen.webhooks`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    MESSAGE_SENT = "message.sent", _("message sent (the gateway accepted it)")
    MESSAGE_DELIVERED = "message.delivered", _("message delivered")
    MESSAGE_UNDELIVERED = "message.undelivered", _("message undelivered")
    MESSAGE_FAILED = "message.failed", _("message failed (refused, or its outcome unknown)")
    REPLY_RECEIVED = "reply.received", _("reply received")
    SUPPRESSION_ADDED = "suppression.added", _("number added to the suppression list")
    CAMPAIGN_FINISHED = "campaign.finished", _("campaign finished")


class WebhookEndpoint(models.Model):
    """A URL that receives the events it subscribed to, signed with its secret.

    The secret is shown once, when the endpoint is created; it is kept (the app signs
    with it) but never shown, logged or exported again."""

    name = models.CharField(_("name"), max_length=100, help_text=_("Who receives it, and why."))
    url = models.URLField(
        _("URL"),
        max_length=500,
        help_text=_("An http(s) URL that answers a POST with a 2xx status."),
    )
    events = models.JSONField(_("events"), default=list)
    account = models.CharField(
        _("account"),
        max_length=64,
        blank=True,
        help_text=_("Only events of this account. Empty: every account."),
    )
    kind = models.CharField(
        _("kind"),
        max_length=20,
        blank=True,
        help_text=_("Only events of messages of this kind. Empty: every kind."),
    )
    secret = models.CharField(max_length=100, editable=False)
    is_active = models.BooleanField(_("enabled"), default=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)
    last_failed_at = models.DateTimeField(_("last failure"), null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(
        _("why it was disabled"), max_length=300, blank=True, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.pk}: {self.name}>"


class WebhookEvent(models.Model):
    """Something that happened, recorded in the transaction that made it happen. Its
    ``event_id`` and ``payload`` (the body every endpoint receives, retries and replays
    included) are given once, when the event is handed to its endpoints: the poll that
    records 10,000 events writes no random key into an index."""

    event_id = models.UUIDField(_("event id"), null=True, blank=True, editable=False)
    type = models.CharField(_("type"), max_length=40, choices=EventType.choices)
    object_id = models.BigIntegerField(_("object"))
    occurred_at = models.DateTimeField(_("occurred"))
    payload = models.JSONField(_("payload"), null=True, blank=True)
    handed_out_at = models.DateTimeField(_("handed to its endpoints"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"],
                name="xunchen_wh_event_id_once",
                condition=models.Q(event_id__isnull=False),
            )
        ]
        indexes = [
            models.Index(
                fields=["id"],
                name="xunchen_wh_event_new",
                condition=models.Q(handed_out_at__isnull=True),
            ),
            models.Index(fields=["occurred_at"], name="xunchen_wh_event_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class WebhookDelivery(models.Model):
    """One endpoint's delivery of one event: pending until a 2xx answer, retried with
    backoff for ``WEBHOOKS["RETRY_FOR"]`` seconds, then given up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        GAVE_UP = "gave_up", _("gave up")

    event = models.ForeignKey(
        WebhookEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        verbose_name=_("endpoint"),
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    retry_until = models.DateTimeField(_("retried until"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_status_code = models.PositiveIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    replayed_at = models.DateTimeField(_("replayed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        permissions = [("replay_webhookdelivery", _("Can replay webhook deliveries"))]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="xunchen_wh_delivery_once")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="xunchen_wh_delivery_due",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}: {self.status}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: its answer's status (none when it failed before one came),
    the error, the first bytes of the answer, and how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery,
        verbose_name=_("delivery"),
        on_delete=models.CASCADE,
        related_name="attempt_log",
    )
    at = models.DateTimeField(_("at"))
    status_code = models.PositiveIntegerField(_("answer"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    response = models.CharField(_("answer's first bytes"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("took (ms)"), default=0)
    replay = models.BooleanField(_("after a replay"), default=False)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"
