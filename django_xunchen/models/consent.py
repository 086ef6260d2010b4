"""The consent ledger: who agreed to marketing (or to a named list), when, to what
wording, and the evidence of it. Append-only: a withdrawal is a new entry, and a
number's current state for a scope is its latest entry
(:mod:`django_xunchen.consent.ledger`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: The scope that marketing messages need when ``REQUIRE_CONSENT`` is on.
MARKETING = "marketing"


class Consent(models.Model):
    """One grant or withdrawal of consent by one number, with its evidence. Never
    changed once written: :meth:`save` refuses an update."""

    class Source(models.TextChoices):
        FORM = "form", _("web form")
        OPT_IN = "opt_in", _("web form confirmed by SMS code")
        IMPORT = "import", _("import")
        REPLY = "reply", _("reply keyword")
        STAFF = "staff", _("staff")
        API = "api", _("API")
        BOUNCE = "bounce", _("bounces")

    mobile = models.CharField(_("mobile"), max_length=11)
    scope = models.CharField(
        _("scope"),
        max_length=64,
        default=MARKETING,
        help_text=_('"marketing", or the name of a list.'),
    )
    granted = models.BooleanField(_("granted"), help_text=_("False: withdrawn."))
    at = models.DateTimeField(
        _("when"), default=timezone.now, help_text=_("When the person agreed or withdrew.")
    )
    recorded_at = models.DateTimeField(_("recorded"), default=timezone.now, editable=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    wording = models.TextField(
        _("wording"), blank=True, help_text=_("The text the person agreed to.")
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    file_name = models.CharField(_("file"), max_length=255, blank=True)
    file_row = models.PositiveIntegerField(_("row in the file"), null=True, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: The staff user's name as it was, kept when the user is deleted.
    staff_name = models.CharField(_("staff user's name"), max_length=150, blank=True)
    reply = models.ForeignKey(
        "InboundMessage",
        verbose_name=_("reply"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(
        _("note"),
        max_length=500,
        blank=True,
        help_text=_("Further evidence: the reply's text, why the number was suppressed."),
    )

    class Meta:
        verbose_name = _("consent entry")
        verbose_name_plural = _("consent ledger")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "scope", "at"], name="xunchen_consent_latest"),
            models.Index(fields=["-at", "-id"], name="xunchen_consent_at"),
        ]
        permissions = [("view_consent_evidence", _("Can produce consent evidence"))]

    def __str__(self) -> str:
        state = _("granted") if self.granted else _("withdrawn")
        return f"{self.mobile} {self.scope}: {state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("the consent ledger is append-only: write a new entry instead")
        super().save(*args, **kwargs)
