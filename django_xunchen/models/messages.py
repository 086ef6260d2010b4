"""Every SMS: one row per number and request, with its status and msgid."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import connections, models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..analytics.numbers import PROVINCE_CHOICES, Carrier
from ..client.types import CHINA_TZ
from ..conf import DEFAULT_KIND
from .fields import account_field
from .templates import Template


def gateway_day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight of the current day in China Standard Time: the gateway keeps a report
    only until the end of the day it was made."""
    now = now or timezone.now()
    if timezone.is_naive(now):
        now = timezone.make_aware(now, timezone.get_default_timezone())
    local = now.astimezone(CHINA_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class MessageQuerySet(models.QuerySet):
    def delivered(self):
        return self.filter(status=Message.Status.DELIVERED)

    def tagged(self, tag: str):
        """Messages whose ``tags`` include ``tag`` (exactly)."""
        if connections[self.db].vendor == "sqlite":
            # SQLite has no JSON containment lookup; the table name is the model's own and
            # the tag is a query parameter.
            table = self.model._meta.db_table
            has = RawSQL(  # noqa: S611
                f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") '  # noqa: S608
                "WHERE json_each.value = %s)",
                [tag],
                output_field=models.BooleanField(),
            )
            return self.alias(_tagged=has).filter(_tagged=True)
        return self.filter(tags__contains=[tag])

    def report_overdue(self, now: dt.datetime | None = None):
        """Messages still ``sent`` although the gateway's day on which they went out has
        ended: their report will never come (the poller was down, or the gateway lost
        it). A message goes out at the later of its submission and its send time: one
        scheduled for tomorrow goes out tomorrow, one whose send time passed while it
        waited in the queue goes out when it is submitted."""
        start = gateway_day_start(now)
        if not settings.USE_TZ:
            start = timezone.make_naive(start, timezone.get_default_timezone())
        return (
            self.filter(status=Message.Status.SENT)
            .filter(
                models.Q(send_at__isnull=True, submitted_at__lt=start) | models.Q(send_at__lt=start)
            )
            .exclude(submitted_at__gte=start)
        )

    def needs_attention(self):
        """Messages staff should look at: refused, unknown outcome, undelivered."""
        return self.filter(
            status__in=[Message.Status.FAILED, Message.Status.UNKNOWN, Message.Status.UNDELIVERED]
        )


class Message(models.Model):
    """One SMS to one number."""

    class Status(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("message status", "queued")
        SENDING = "sending", pgettext_lazy("message status", "sending")
        SENT = "sent", pgettext_lazy("message status", "sent")
        DELIVERED = "delivered", pgettext_lazy("message status", "delivered")
        UNDELIVERED = "undelivered", pgettext_lazy("message status", "undelivered")
        FAILED = "failed", pgettext_lazy("message status", "failed")
        UNKNOWN = "unknown", pgettext_lazy("message status", "unknown")
        EXPIRED = "expired", pgettext_lazy("message status", "expired")
        #: Not sent: the number is on the suppression list for its kind, has no consent
        #: where its account requires it, or the per-number marketing cap was reached.
        SUPPRESSED = "suppressed", pgettext_lazy("message status", "suppressed")
        #: Not sent: its campaign was cancelled before the message was submitted.
        CANCELLED = "cancelled", pgettext_lazy("message status", "cancelled")

    class Kind(models.TextChoices):
        VERIFICATION = "verification", pgettext_lazy("message kind", "verification")
        NOTIFICATION = "notification", pgettext_lazy("message kind", "notification")
        MARKETING = "marketing", pgettext_lazy("message kind", "marketing")

    #: Statuses a delivery report may move a message out of.
    REPORTABLE = (Status.QUEUED, Status.SENDING, Status.SENT, Status.UNKNOWN, Status.UNDELIVERED)
    #: Statuses of messages that went to the gateway and are billed.
    BILLED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN)
    #: Statuses in which nothing more will happen without a person.
    FINAL = (
        Status.DELIVERED,
        Status.UNDELIVERED,
        Status.FAILED,
        Status.EXPIRED,
        Status.SUPPRESSED,
        Status.CANCELLED,
    )

    mobile = models.CharField(_("mobile"), max_length=11)
    carrier = models.CharField(
        _("carrier (by allocation)"),
        max_length=8,
        choices=Carrier.choices,
        blank=True,
        editable=False,
        help_text=_(
            "The carrier the number's segment was allocated to; since number portability "
            "the number may have moved. Empty: unknown."
        ),
    )
    province = models.CharField(
        _("province (by allocation)"),
        max_length=2,
        choices=PROVINCE_CHOICES,
        blank=True,
        editable=False,
        help_text=_("Where the number's block was allocated. Empty: unknown."),
    )
    content = models.TextField(
        _("content"), help_text=_("For a template message, the rendered text.")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=DEFAULT_KIND)
    account = account_field()
    tags = models.JSONField(
        _("tags"),
        default=list,
        blank=True,
        help_text=_("Labels the sending code gave it, to filter on."),
    )
    metadata = models.JSONField(
        _("metadata"),
        default=dict,
        blank=True,
        help_text=_("Free data the sending code attached, passed on to signals."),
    )
    masked = models.BooleanField(
        _("masked"),
        default=False,
        editable=False,
        help_text=_(
            "The stored text has a verification code masked out: the message went out "
            "from memory and is never sent again from this row."
        ),
    )
    template = models.ForeignKey(
        Template,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    params = models.JSONField(_("template parameters"), default=dict, blank=True)
    extcode = models.CharField(_("extcode"), max_length=4, blank=True)
    send_at = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    parts = models.PositiveSmallIntegerField(
        _("parts"),
        default=1,
        help_text=_("Billable parts, the signature included, by the account's rule."),
    )
    hold_until = models.DateTimeField(
        _("held until"),
        null=True,
        blank=True,
        help_text=_(
            "Held here, not at the gateway, until then (quiet hours): a later opt-out or "
            "cancel still applies."
        ),
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.QUEUED
    )
    msgid = models.CharField(
        _("msgid"),
        max_length=64,
        blank=True,
        help_text=_("The gateway's id, shared by every number submitted in one request."),
    )
    error_code = models.CharField(_("gateway error code"), max_length=16, blank=True)
    error_message = models.TextField(_("gateway error"), blank=True)
    blocked_words = models.JSONField(_("blocked words"), default=list, blank=True)
    report_status = models.CharField(
        _("report status"),
        max_length=32,
        blank=True,
        help_text=_("The operator's delivery code, e.g. DELIVRD or MA:0006."),
    )
    batch = models.UUIDField(
        _("batch"), default=uuid.uuid4, help_text=_("Messages created by one send call.")
    )
    claim = models.UUIDField(null=True, blank=True, editable=False)
    request = models.UUIDField(
        _("request"),
        null=True,
        blank=True,
        editable=False,
        help_text=_(
            "The gateway request it last went in: every message of one request shares it, "
            "and the msgid the gateway gave that request. Kept when the outcome is lost."
        ),
    )
    requested_at = models.DateTimeField(
        _("requested"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("When that request was claimed, just before it went to the gateway."),
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    latency = models.DurationField(
        _("report latency"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("From the submission to the time of its delivery report."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,  # xunchen_msg_campaign below starts with it
    )
    resent_from = models.ForeignKey(
        "self",
        verbose_name=_("resent from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="resends",
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["msgid", "mobile"], name="xunchen_msg_msgid_mobile"),
            models.Index(fields=["mobile", "-created_at"], name="xunchen_msg_mobile_created"),
            models.Index(fields=["status", "created_at"], name="xunchen_msg_status_created"),
            models.Index(fields=["-created_at", "-id"], name="xunchen_msg_created"),
            models.Index(fields=["reported_at"], name="xunchen_msg_reported"),
            models.Index(fields=["batch"], name="xunchen_msg_batch"),
            models.Index(fields=["claim"], name="xunchen_msg_claim"),
            models.Index(fields=["kind", "-created_at"], name="xunchen_msg_kind"),
            models.Index(fields=["account", "-created_at"], name="xunchen_msg_account"),
            models.Index(fields=["campaign", "mobile"], name="xunchen_msg_campaign"),
            models.Index(fields=["submitted_at"], name="xunchen_msg_submitted"),
        ]
        permissions = [
            ("send_sms", _("Can send SMS from the admin")),
            ("resend_message", _("Can resend messages")),
            ("check_balance", _("Can check the gateway balance")),
            ("view_dashboard", _("Can view the delivery dashboard")),
            ("export_message", _("Can export the message log")),
        ]

    def __str__(self) -> str:
        return f"{self.mobile}: {self.preview}"

    @property
    def preview(self) -> str:
        text = " ".join(self.content.split())
        return text if len(text) <= 40 else text[:39] + "…"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def is_report_overdue(self) -> bool:
        """``sent``, and the gateway's day on which it went out has ended: no report will
        come any more."""
        if self.status != self.Status.SENT:
            return False
        times = [t for t in (self.send_at, self.submitted_at) if t is not None]
        if not times:
            return False
        went_out = max(times)
        if timezone.is_naive(went_out):
            went_out = timezone.make_aware(went_out, timezone.get_default_timezone())
        return went_out < gateway_day_start()
