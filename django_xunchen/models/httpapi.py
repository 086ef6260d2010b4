"""The HTTP API's keys, its idempotency records, its request log and its rate windows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A key a sibling service calls the HTTP API with (:mod:`django_xunchen.httpapi`).

    The key itself (``xc_<prefix>_<secret>``) is shown once, when it is created; only its
    prefix (to find it) and a keyed hash of its secret are stored."""

    class Scope(models.TextChoices):
        SEND = "send", _("send messages")
        CODES = "codes", _("send and check verification codes")
        READ = "read", _("read messages and the balance")
        HEALTH = "health", _("read the health report")

    name = models.CharField(_("name"), max_length=100, help_text=_("Who uses it, and for what."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    kinds = models.JSONField(
        _("kinds"),
        default=list,
        blank=True,
        help_text=_("The kinds of message it may send and read. None chosen: every kind."),
    )
    accounts = models.JSONField(
        _("accounts"),
        default=list,
        blank=True,
        help_text=_("The accounts it may send on and read. None chosen: every account."),
    )
    allowed_ips = models.TextField(
        _("allowed IP addresses"),
        blank=True,
        help_text=_(
            "Addresses or networks (CIDR), one per line, the only ones it is accepted from. "
            "Empty: any."
        ),
    )
    per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        default=600,
        help_text=_("Beyond it, requests are refused with 429 until the next minute."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        editable=False,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (xc_{self.prefix}_…)"


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``: the same key with the same
    body within a day gets it again, and nothing more is done. The unique row, taken
    before the work, is what makes two racing requests do the work once."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="xunchen_idempotency_once")
        ]

    def __str__(self) -> str:
        return self.key


class ApiRequest(models.Model):
    """One request to the HTTP API, with the key it came with."""

    api_key = models.ForeignKey(
        ApiKey,
        verbose_name=_("API key"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requests",
    )
    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=200)
    status = models.PositiveSmallIntegerField(_("status"))
    error = models.CharField(_("error code"), max_length=40, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("API request")
        verbose_name_plural = _("API requests")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class ApiRateWindow(models.Model):
    """Requests of one key in one minute: counted by a conditional UPDATE, so that the
    limit holds across processes and machines."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "minute"], name="xunchen_api_rate_once")
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M}: {self.count}"
