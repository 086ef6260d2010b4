"""Settled daily figures for the dashboard."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


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
