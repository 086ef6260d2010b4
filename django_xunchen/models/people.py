"""What stays of an erased person: a keyed digest of the number, when, and who asked
(:mod:`django_xunchen.people.erase`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Erasure(models.Model):
    """One erasure of one number's data. The number is not kept: :attr:`digest` is an
    HMAC of it under the app's key, so that "was 13800138000 erased?" can be answered
    by whoever holds the number, and by no one else."""

    digest = models.CharField(_("digest of the number"), max_length=64, db_index=True)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: The name of who asked, kept when the user is deleted ("manage.py" for the command).
    requested_by_name = models.CharField(_("requested by (name)"), max_length=150, blank=True)
    counts = models.JSONField(_("rows"), default=dict, blank=True)

    class Meta:
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")
        ordering = ["-erased_at", "-id"]
        permissions = [
            ("export_person", _("Can export one person's data")),
            ("erase_person", _("Can erase one person's data")),
        ]

    def __str__(self) -> str:
        return f"{self.digest[:12]}… {self.erased_at:%Y-%m-%d %H:%M}"
