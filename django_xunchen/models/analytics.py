"""Settled figures for the analytics page, with every dimension staff filter on."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..analytics.latency import COLUMNS as LATENCY_COLUMNS
from .messages import Message

#: The statuses a DeliveryFigure counts, a column each.
STATUS_COLUMNS = (
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "unknown",
    "expired",
    "suppressed",
    "cancelled",
)
#: The dimensions of a DeliveryFigure, in its unique key's order.
DIMENSIONS = ("day", "account", "kind", "template_id", "campaign_id", "carrier", "province")


class DeliveryFigure(models.Model):
    """The messages created on one day, per account, kind, template, campaign, carrier
    and province (by allocation): how many in each status, their parts (all, and those
    billed), and a histogram of their report latency. Kept with
    :class:`~django_xunchen.models.DailyFigure`, under the same
    :class:`~django_xunchen.models.RollupDay` (:mod:`django_xunchen.analytics.figures`).

    Template and campaign are ids, not foreign keys: the figures outlive a campaign
    ``sms_cleanup`` deletes."""

    day = models.DateField(_("day"))
    account = models.CharField(_("account"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12)
    template_id = models.BigIntegerField(_("template"), null=True)
    campaign_id = models.BigIntegerField(_("campaign"), null=True)
    carrier = models.CharField(_("carrier (by allocation)"), max_length=8)
    province = models.CharField(_("province (by allocation)"), max_length=2)
    parts = models.PositiveBigIntegerField(_("parts"), default=0)
    billed_parts = models.PositiveBigIntegerField(_("billed parts"), default=0)

    class Meta:
        verbose_name = _("delivery figure")
        verbose_name_plural = _("delivery figures")
        indexes = [models.Index(fields=["day", "account"], name="xunchen_delivery_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.account} {self.kind} {self.carrier} {self.province}"


# A column per status (labelled as the status) and per latency bucket (internal).
for _column in STATUS_COLUMNS:
    _label = Message.Status(_column).label
    DeliveryFigure.add_to_class(_column, models.PositiveIntegerField(_label, default=0))
for _column in LATENCY_COLUMNS:
    DeliveryFigure.add_to_class(_column, models.PositiveIntegerField(_column, default=0))


class FailureFigure(models.Model):
    """The messages created on one day that failed or were not delivered, per account,
    kind, template, campaign, carrier and the code that said why: the operator's report
    code of an undelivered message, the gateway's error code of a failed one."""

    day = models.DateField(_("day"))
    account = models.CharField(_("account"), max_length=64)
    kind = models.CharField(_("kind"), max_length=12)
    template_id = models.BigIntegerField(_("template"), null=True)
    campaign_id = models.BigIntegerField(_("campaign"), null=True)
    carrier = models.CharField(_("carrier (by allocation)"), max_length=8)
    status = models.CharField(_("status"), max_length=12)
    code = models.CharField(_("code"), max_length=32)
    messages = models.PositiveIntegerField(_("messages"))

    class Meta:
        verbose_name = _("failure figure")
        verbose_name_plural = _("failure figures")
        indexes = [models.Index(fields=["day", "account"], name="xunchen_failure_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.account} {self.code}: {self.messages}"
