"""Every SMS, template, delivery report and reply, and the poller's journal and lock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .client.types import CHINA_TZ
from .client.validation import (
    check_params_match,
    normalize_params,
    placeholders,
    render_template,
)
from .conf import DEFAULT_ACCOUNT, DEFAULT_KIND


def account_field() -> models.CharField:
    return models.CharField(
        _("account"),
        max_length=64,
        default=DEFAULT_ACCOUNT,
        help_text=_("The name of the gateway account in XUNCHEN['ACCOUNTS']."),
    )


class Template(models.Model):
    """A template as registered at the vendor, with ``@1@``-style placeholders. Vendor
    template ids belong to one gateway account."""

    account = account_field()
    template_id = models.CharField(
        _("vendor template id"),
        max_length=64,
        help_text=_("The id the vendor gave the template, e.g. JSM40001-0001."),
    )
    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(
        _("body"),
        help_text=_(
            "The text exactly as registered at the vendor, with numbered placeholders: @1@, @2@, …"
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "template_id"], name="xunchen_template_once_per_account"
            )
        ]

    def __str__(self) -> str:
        details = [self.template_id] if self.template_id != self.name else []
        if self.account != DEFAULT_ACCOUNT:
            details.append(self.account)
        return f"{self.name} ({', '.join(details)})" if details else self.name

    @property
    def placeholders(self) -> list[int]:
        """The placeholder numbers in the body (``@1@`` → 1), sorted."""
        return placeholders(self.body)

    def check_params(self, params: Mapping | Sequence | None) -> tuple[tuple[int, str], ...]:
        """Normalised params, after checking they match the placeholders exactly."""
        pairs = normalize_params(params)
        check_params_match(self.body, pairs)
        return pairs

    def render(self, params: Mapping | Sequence | None) -> str:
        """The text the handset shows (before the signature the gateway adds)."""
        return render_template(self.body, self.check_params(params))

    def clean(self) -> None:
        super().clean()
        if self.template_id:
            self.template_id = self.template_id.strip()
        if self.body and not self.body.strip():
            raise ValidationError({"body": _("The body is blank.")})


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
        it). Scheduled messages count from their send time."""
        start = gateway_day_start(now)
        if not settings.USE_TZ:
            start = timezone.make_naive(start, timezone.get_default_timezone())
        return self.filter(status=Message.Status.SENT).filter(
            models.Q(send_at__isnull=True, submitted_at__lt=start) | models.Q(send_at__lt=start)
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
        #: Not sent: the number is on the suppression list for its kind, or the
        #: per-number marketing cap was reached.
        SUPPRESSED = "suppressed", pgettext_lazy("message status", "suppressed")
        #: Not sent: its campaign was cancelled before the message was submitted.
        CANCELLED = "cancelled", pgettext_lazy("message status", "cancelled")

    class Kind(models.TextChoices):
        VERIFICATION = "verification", pgettext_lazy("message kind", "verification")
        NOTIFICATION = "notification", pgettext_lazy("message kind", "notification")
        MARKETING = "marketing", pgettext_lazy("message kind", "marketing")

    #: Statuses a delivery report may move a message out of.
    REPORTABLE = (Status.QUEUED, Status.SENDING, Status.SENT, Status.UNKNOWN, Status.UNDELIVERED)
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
        ]
        permissions = [
            ("send_sms", _("Can send SMS from the admin")),
            ("resend_message", _("Can resend messages")),
            ("check_balance", _("Can check the gateway balance")),
            ("view_dashboard", _("Can view the delivery dashboard")),
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
        went_out = self.send_at or self.submitted_at
        if went_out is None:
            return False
        if timezone.is_naive(went_out):
            went_out = timezone.make_aware(went_out, timezone.get_default_timezone())
        return went_out < gateway_day_start()


class PolledRecord(models.Model):
    """A record that came from a poll: kept once per (journal entry, position), so that
    ingesting the same raw response again is a no-op."""

    source = models.ForeignKey(
        "PollJournalEntry",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="%(class)ss",
        editable=False,
    )
    position = models.PositiveIntegerField(null=True, blank=True, editable=False)
    truncated = models.BooleanField(
        _("truncated"),
        default=False,
        help_text=_(
            "A field was longer than its column and was cut; the journal entry keeps the "
            "full record."
        ),
    )

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(
                fields=["source", "position"], name="%(app_label)s_%(class)s_once_per_source"
            )
        ]


class Report(PolledRecord):
    """A delivery report as the gateway returned it, matched to its message if known."""

    account = account_field()
    mobile = models.CharField(_("mobile"), max_length=20)
    msgid = models.CharField(_("msgid"), max_length=64)
    status = models.CharField(_("report status"), max_length=32)
    delivered = models.BooleanField(_("delivered"))
    reported_at = models.DateTimeField(_("reported"), null=True, blank=True)
    extno = models.CharField(_("extno"), max_length=20, blank=True)
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    matched_at = models.DateTimeField(_("matched"), null=True, blank=True)

    class Meta(PolledRecord.Meta):
        verbose_name = _("delivery report")
        verbose_name_plural = _("delivery reports")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["msgid", "mobile"], name="xunchen_rpt_msgid_mobile"),
            models.Index(fields=["-received_at", "-id"], name="xunchen_rpt_received"),
            models.Index(
                fields=["received_at"],
                name="xunchen_rpt_orphans",
                condition=models.Q(message__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mobile} {self.msgid} {self.status}"


class InboundMessage(PolledRecord):
    """A reply (MO message), matched to the message it answers where possible."""

    account = account_field()
    mobile = models.CharField(_("mobile"), max_length=20)
    recvcode = models.CharField(_("received on"), max_length=32)
    extcode = models.CharField(_("extcode"), max_length=20, blank=True)
    content = models.TextField(_("content"))
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    message = models.ForeignKey(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
    )
    stored_at = models.DateTimeField(_("stored"), auto_now_add=True)

    class Meta(PolledRecord.Meta):
        verbose_name = _("reply")
        verbose_name_plural = _("replies")
        ordering = ["-stored_at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "-stored_at"], name="xunchen_mo_mobile"),
            models.Index(fields=["-stored_at", "-id"], name="xunchen_mo_stored"),
        ]

    def __str__(self) -> str:
        return f"{self.mobile}: {self.content[:40]}"


class PollJournalEntry(models.Model):
    """A raw poll response, stored and committed before it is parsed.

    The gateway returns each report and reply once only; this row is the only copy until
    it is ingested. Entries that fail to ingest stay ``pending`` and are retried by every
    poll until they succeed.
    """

    class Operation(models.TextChoices):
        REPORTS = "queryReport", _("delivery reports")
        INBOUND = "queryMo", _("replies")

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("done")
        #: The body broke off part-way: the complete records before the break are stored.
        SALVAGED = "salvaged", _("salvaged")
        #: Could not be ingested after JOURNAL_MAX_ATTEMPTS tries; waits for staff.
        SET_ASIDE = "set_aside", _("set aside")

    account = account_field()
    operation = models.CharField(_("operation"), max_length=16, choices=Operation.choices)
    body = models.BinaryField(_("raw response"))
    fetched_at = models.DateTimeField(_("fetched"))
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.PENDING
    )
    complete = models.BooleanField(
        _("complete"),
        default=True,
        help_text=_("False when the answer broke off: the body holds every byte that came."),
    )
    attempts = models.PositiveIntegerField(_("ingest attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    records = models.PositiveIntegerField(_("records"), null=True, blank=True)
    ingested_at = models.DateTimeField(_("ingested"), null=True, blank=True)

    class Meta:
        verbose_name = _("poll journal entry")
        verbose_name_plural = _("poll journal")
        ordering = ["-fetched_at", "-id"]
        indexes = [
            models.Index(fields=["account", "operation", "-fetched_at"], name="xunchen_journal_op"),
            models.Index(
                fields=["id"],
                name="xunchen_journal_pending",
                condition=models.Q(state="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.fetched_at:%Y-%m-%d %H:%M:%S} ({self.state})"


class PollState(models.Model):
    """The health of one poll operation of one gateway account: when it last fetched
    successfully."""

    account = account_field()
    operation = models.CharField(
        _("operation"),
        max_length=16,
        choices=PollJournalEntry.Operation.choices,
    )
    last_success_at = models.DateTimeField(_("last successful fetch"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("poll state")
        verbose_name_plural = _("poll states")
        constraints = [
            models.UniqueConstraint(fields=["account", "operation"], name="xunchen_pollstate_once")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.operation}: {self.last_success_at}"


class PollLock(models.Model):
    """A named lock in the database: works on every backend, expires if its holder dies."""

    name = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=200)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("poll lock")
        verbose_name_plural = _("poll locks")

    def __str__(self) -> str:
        return f"{self.name} held by {self.owner}"


class Suppression(models.Model):
    """A number that gets no more messages of some kinds: it replied 退订, bounced, or
    staff put it here. Verification codes are never suppressed."""

    class Scope(models.TextChoices):
        MARKETING = "marketing", _("marketing only")
        ALL = "all", _("everything but verification codes")

    class Source(models.TextChoices):
        REPLY = "reply", _("reply keyword")
        STAFF = "staff", _("staff")
        IMPORT = "import", _("import")
        BOUNCE = "bounce", _("bounces")

    mobile = models.CharField(_("mobile"), max_length=11, unique=True)
    scope = models.CharField(
        _("scope"), max_length=10, choices=Scope.choices, default=Scope.MARKETING
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    cause = models.CharField(
        _("cause"),
        max_length=200,
        blank=True,
        help_text=_("The reply, the delivery status of the bounces, or a note."),
    )
    reply = models.ForeignKey(
        "InboundMessage",
        verbose_name=_("reply"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("suppressed number")
        verbose_name_plural = _("suppression list")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.mobile} ({self.scope})"


class BlockedWord(models.Model):
    """A word the gateway refused (status 110) on one account, learned so that the next
    send with it is refused before any request."""

    account = account_field()
    word = models.CharField(_("word"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    source = models.ForeignKey(
        Message,
        verbose_name=_("learned from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)

    class Meta:
        verbose_name = _("blocked word")
        verbose_name_plural = _("blocked words")
        ordering = ["account", "word"]
        constraints = [
            models.UniqueConstraint(fields=["account", "word"], name="xunchen_word_once")
        ]

    def __str__(self) -> str:
        return self.word


class VerificationCode(models.Model):
    """One verification code for one number and purpose. The code itself is not here:
    only a random ``nonce`` it is derived from with the server's key, and a keyed hash to
    check it against (see :mod:`django_xunchen.verification`)."""

    class State(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("code state", "active")
        VERIFIED = "verified", pgettext_lazy("code state", "verified")
        DEAD = "dead", pgettext_lazy("code state", "too many attempts")
        REPLACED = "replaced", pgettext_lazy("code state", "replaced")
        FAILED = "failed", pgettext_lazy("code state", "not sent")

    mobile = models.CharField(_("mobile"), max_length=11)
    purpose = models.CharField(_("purpose"), max_length=32)
    nonce = models.CharField(max_length=64, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("attempts allowed"))
    sends = models.PositiveSmallIntegerField(_("times sent"), default=0)
    ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    message = models.ForeignKey(
        Message,
        verbose_name=_("last message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "purpose", "-created_at"], name="xunchen_code_lookup"),
            models.Index(fields=["-created_at", "-id"], name="xunchen_code_created"),
        ]

    def __str__(self) -> str:
        return f"{self.mobile} {self.purpose} ({self.state})"

    def __repr__(self) -> str:
        return f"<VerificationCode {self.pk} {self.mobile} {self.purpose} {self.state}>"


class ThrottleBucket(models.Model):
    """A row per throttled key (``mobile:…``, ``ip:…``, ``prefix:…``), locked with
    SELECT … FOR UPDATE while a code request counts and records its send, so that the
    throttles hold across processes and machines."""

    key = models.CharField(max_length=80, primary_key=True)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("throttle bucket")
        verbose_name_plural = _("throttle buckets")

    def __str__(self) -> str:
        return self.key


class ThrottleEvent(models.Model):
    """A code request: sent (it counts against the throttles) or throttled (and why)."""

    class Outcome(models.TextChoices):
        SENT = "sent", pgettext_lazy("throttle outcome", "sent")
        THROTTLED = "throttled", pgettext_lazy("throttle outcome", "throttled")

    class Reason(models.TextChoices):
        NONE = "", "—"
        COOLDOWN = "cooldown", _("resend cooldown")
        HOURLY = "hourly", _("hourly limit per number")
        DAILY = "daily", _("daily limit per number")
        IP = "ip", _("hourly limit per IP")
        PREFIX = "prefix", _("number prefix surge")
        VOLUME = "volume", _("daily volume")

    mobile = models.CharField(_("mobile"), max_length=11)
    prefix = models.CharField(_("prefix"), max_length=11)
    ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    purpose = models.CharField(_("purpose"), max_length=32)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    lifted = models.BooleanField(
        _("lifted"), default=False, help_text=_("Staff lifted the throttle: it no longer counts.")
    )

    class Meta:
        verbose_name = _("throttle event")
        verbose_name_plural = _("throttle events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "-at"], name="xunchen_thr_mobile"),
            models.Index(fields=["ip", "-at"], name="xunchen_thr_ip"),
            models.Index(fields=["prefix", "-at"], name="xunchen_thr_prefix"),
            models.Index(fields=["-at", "-id"], name="xunchen_thr_at"),
        ]

    def __str__(self) -> str:
        return f"{self.mobile} {self.outcome} {self.reason}"


def params_for_storage(pairs: Sequence[tuple[int, str]]) -> dict[str, str]:
    return {str(n): v for n, v in pairs}


class Campaign(models.Model):
    """A send to the numbers of an uploaded spreadsheet, staged here between the upload
    and the send (so that the check, the send and a cancel work from any process), with
    one :class:`CampaignRecipient` per row of the file."""

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("campaign state", "draft")
        SCHEDULED = "scheduled", pgettext_lazy("campaign state", "scheduled")
        RUNNING = "running", pgettext_lazy("campaign state", "running")
        PAUSED = "paused", pgettext_lazy("campaign state", "paused")
        DONE = "done", pgettext_lazy("campaign state", "done")
        CANCELLED = "cancelled", pgettext_lazy("campaign state", "cancelled")

    KINDS = [
        (Message.Kind.MARKETING, Message.Kind.MARKETING.label),
        (Message.Kind.NOTIFICATION, Message.Kind.NOTIFICATION.label),
    ]

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=12, choices=KINDS, default="marketing")
    account = account_field()
    content = models.TextField(
        _("content"),
        blank=True,
        help_text=_("The text, when no template is chosen. @1@, @2@… take the row's columns."),
    )
    template = models.ForeignKey(
        Template,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="campaigns",
    )
    send_at = models.DateTimeField(
        _("send at"),
        null=True,
        blank=True,
        help_text=_("Held here until then, so that it can still be cancelled. Empty: now."),
    )
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.DRAFT, db_index=True
    )
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    mobile_column = models.PositiveSmallIntegerField(_("number column"), default=1)
    param_columns = models.JSONField(
        _("parameter columns"),
        default=dict,
        blank=True,
        help_text=_('Which column fills each @n@: {"1": 2} puts column 2 in @1@.'),
    )
    header = models.JSONField(_("header row"), default=list, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    valid = models.PositiveIntegerField(_("valid numbers"), default=0)
    total_parts = models.PositiveIntegerField(_("parts"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]
        permissions = [("send_campaign", _("Can send, pause, resume and cancel campaigns"))]

    def __str__(self) -> str:
        return self.name


class CampaignRecipient(models.Model):
    """One row of a campaign's file: its number and parameters, what is wrong with it
    (``problem``, empty when it is fine) and, once sent, its Message."""

    class Problem(models.TextChoices):
        INVALID = "invalid", pgettext_lazy("campaign row problem", "invalid number")
        SHORTENED = "shortened", pgettext_lazy("campaign row problem", "number shortened by Excel")
        DUPLICATE = "duplicate", pgettext_lazy("campaign row problem", "duplicate")
        SUPPRESSED = "suppressed", pgettext_lazy("campaign row problem", "suppressed")
        MISSING = "missing", pgettext_lazy("campaign row problem", "missing parameter")
        EXTRA = "extra", pgettext_lazy("campaign row problem", "extra parameter")
        BLOCKED = "blocked", pgettext_lazy("campaign row problem", "blocked word")
        TOO_LONG = "too_long", pgettext_lazy("campaign row problem", "too long")
        BAD_TEXT = "bad_text", pgettext_lazy("campaign row problem", "unusable text")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="recipients"
    )
    row = models.PositiveIntegerField(_("row"), help_text=_("Its row number in the file."))
    mobile = models.CharField(_("mobile"), max_length=40)
    params = models.JSONField(_("template parameters"), default=dict, blank=True)
    problem = models.CharField(_("problem"), max_length=12, choices=Problem.choices, blank=True)
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    parts = models.PositiveSmallIntegerField(_("parts"), default=0)
    message = models.OneToOneField(
        Message,
        verbose_name=_("message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_recipient",
    )

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        ordering = ["campaign", "row"]
        indexes = [models.Index(fields=["campaign", "problem", "row"], name="xunchen_cr_problem")]

    def __str__(self) -> str:
        return f"{self.row}: {self.mobile}"


class RollupDay(models.Model):
    """A day whose figures are in :class:`DailyFigure`; ``stale`` when a message of
    that day changed since (a late report, an expiry, a cancelled campaign row). Today's
    figures cover only its messages created before ``settled_until``."""

    day = models.DateField(_("day"), primary_key=True)
    stale = models.BooleanField(_("stale"), default=True)
    settled_until = models.DateTimeField(
        _("settled until"),
        null=True,
        blank=True,
        help_text=_("Today only: the figures cover the messages created before this."),
    )

    class Meta:
        verbose_name = _("rolled-up day")
        verbose_name_plural = _("rolled-up days")

    def __str__(self) -> str:
        return f"{self.day}{' (stale)' if self.stale else ''}"


class DailyFigure(models.Model):
    """The messages created on one day, per account, kind and status, with their parts:
    what the dashboard shows, without counting a million rows (:mod:`django_xunchen.rollup`)."""

    day = models.DateField(_("day"))
    account = models.CharField(_("account"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12)
    status = models.CharField(_("status"), max_length=12)
    messages = models.PositiveIntegerField(_("messages"))
    parts = models.PositiveBigIntegerField(_("parts"))

    class Meta:
        verbose_name = _("daily figure")
        verbose_name_plural = _("daily figures")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "kind", "status"], name="xunchen_daily_figure_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.account} {self.kind} {self.status}: {self.messages}"
