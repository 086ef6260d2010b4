"""Campaigns: an uploaded spreadsheet's recipients staged for one send."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .fields import account_field
from .messages import Message
from .policy import Suppression
from .templates import Template


def params_for_storage(pairs: Sequence[tuple[int, str]]) -> dict[str, str]:
    return {str(n): v for n, v in pairs}


class Campaign(models.Model):
    """A send to the numbers of an uploaded spreadsheet, staged here between the upload
    and the send (so that the check, the send and a cancel work from any process), with
    one :class:`CampaignRecipient` per row of the file.

    A large file is checked in the background: the campaign is ``checking`` (its file in
    :class:`CampaignFileChunk` rows, ``checked_rows`` of ``file_rows`` done) until the
    check ends, ``draft`` again either way (``check_error`` says why a file was refused).
    """

    class State(models.TextChoices):
        CHECKING = "checking", pgettext_lazy("campaign state", "checking")
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
    file_rows = models.PositiveIntegerField(
        _("rows in the file"),
        default=0,
        help_text=_("Counted when the file was uploaded, before its rows were checked."),
    )
    checked_rows = models.PositiveIntegerField(_("rows checked"), default=0)
    check_error = models.CharField(_("why the file was refused"), max_length=500, blank=True)
    #: The process checking the file (a random token) and when it last wrote: another
    #: process takes the check over when it has been silent for ``CHECK_STALE_AFTER``.
    check_claim = models.CharField(max_length=32, blank=True, editable=False)
    check_heartbeat = models.DateTimeField(null=True, blank=True, editable=False)
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
        NO_CONSENT = "no_consent", pgettext_lazy("campaign row problem", "no consent")
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
    detail = models.CharField(
        _("detail"),
        max_length=200,
        blank=True,
        help_text=_("What was wrong, as written for rows checked before details were stored."),
    )
    #: The values of the problem's detail (the row of the first duplicate, the value that
    #: is no number…), rendered by :meth:`detail_text` in the reader's language.
    detail_values = models.JSONField(_("detail values"), default=dict, blank=True)
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

    def detail_text(self) -> str:
        """What is wrong with the row, in the active language."""
        template = PROBLEM_DETAILS.get(self.problem)
        if template is None or not self.detail_values:
            return self.detail
        values = dict(self.detail_values)
        if self.problem == self.Problem.SUPPRESSED:
            source = values.get("source")
            if source in Suppression.Source.values:
                values["source"] = Suppression.Source(source).label
        try:
            return str(template) % values
        except (KeyError, TypeError, ValueError):
            return self.detail


_P = CampaignRecipient.Problem
#: Each problem's detail, filled from :attr:`CampaignRecipient.detail_values` when shown.
PROBLEM_DETAILS = {
    _P.INVALID: _("Not a mainland China mobile number: %(value)s"),
    _P.SHORTENED: _(
        "Excel shortened the number to %(value)s: format the column as text and save the "
        "file again."
    ),
    _P.DUPLICATE: _("Same number as row %(row)d."),
    _P.SUPPRESSED: _("On the suppression list (%(source)s)."),
    _P.NO_CONSENT: _("No current consent to %(scope)s: the account requires it."),
    _P.MISSING: _("No value for %(names)s."),
    _P.EXTRA: _("The row has %(count)d values, the header %(width)d: a stray comma?"),
    _P.BLOCKED: _("Refused before by the gateway: %(words)s"),
    _P.TOO_LONG: _("The text is %(length)d characters long; the gateway takes at most %(limit)d."),
    _P.BAD_TEXT: "%(error)s",
}


class CampaignFileChunk(models.Model):
    """A piece of a campaign's uploaded file, kept until its check in the background is
    over. In the database rather than on disk: the check may run on another machine than
    the upload, and a host need not configure MEDIA for it; in pieces, so that neither
    the upload nor the check ever holds the whole file in memory."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="chunks"
    )
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        verbose_name = _("campaign file chunk")
        verbose_name_plural = _("campaign file chunks")
        ordering = ["campaign", "index"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "index"], name="xunchen_cfc_unique")
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.index}"
