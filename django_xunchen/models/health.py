"""What monitoring remembers between two looks: each account's last known balance, and
which alerts are raised, so that an alert fires once when a threshold is crossed and
not on every send (:mod:`django_xunchen.operations.alerts`)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .fields import account_field


class AccountBalance(models.Model):
    """The balance of one account as last read from the gateway, and whether it is
    below the account's ``LOW_BALANCE``."""

    account = account_field()
    amount = models.DecimalField(_("balance"), max_digits=14, decimal_places=4, null=True)
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    error = models.CharField(_("why it could not be read"), max_length=500, blank=True)
    low = models.BooleanField(_("below LOW_BALANCE"), default=False)

    class Meta:
        verbose_name = _("account balance")
        verbose_name_plural = _("account balances")
        constraints = [models.UniqueConstraint(fields=["account"], name="xunchen_balance_once")]

    def __str__(self) -> str:
        return f"{self.account}: {self.amount}"


class HealthAlert(models.Model):
    """An alert that is raised (``active``) from the moment a check crossed into it until
    it is back: a raised alert is not raised again."""

    key = models.CharField(_("alert"), max_length=100, unique=True)
    active = models.BooleanField(_("raised"), default=False)
    changed_at = models.DateTimeField(_("since"), auto_now=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("health alert")
        verbose_name_plural = _("health alerts")

    def __str__(self) -> str:
        return f"{self.key}: {'raised' if self.active else 'clear'}"
