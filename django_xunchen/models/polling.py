"""What polling keeps: delivery reports, replies, the poller's journal, state and lock."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import account_field
from .messages import Message


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
