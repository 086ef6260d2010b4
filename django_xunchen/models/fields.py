"""Fields shared by the models of several concerns."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ..conf import DEFAULT_ACCOUNT


def account_field() -> models.CharField:
    return models.CharField(
        _("account"),
        max_length=64,
        default=DEFAULT_ACCOUNT,
        help_text=_("The name of the gateway account in XUNCHEN['ACCOUNTS']."),
    )
