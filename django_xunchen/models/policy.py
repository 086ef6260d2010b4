"""The sending policy's tables: suppressed numbers and blocked words."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import account_field
from .messages import Message


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
