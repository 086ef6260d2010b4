"""Verification codes (never in clear) and the throttles' buckets and events."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .messages import Message


class VerificationCode(models.Model):
    """One verification code for one number and purpose. The code itself is not here:
    only a random ``nonce`` it is derived from with the server's key (empty when the
    caller made the code: ``request_code(code=...)``), and a keyed hash to
    check it against (see :mod:`django_xunchen.verification`)."""

    class State(models.TextChoices):
        ACTIVE = "active", pgettext_lazy("code state", "active")
        VERIFIED = "verified", pgettext_lazy("code state", "verified")
        DEAD = "dead", pgettext_lazy("code state", "too many attempts")
        REPLACED = "replaced", pgettext_lazy("code state", "replaced")
        FAILED = "failed", pgettext_lazy("code state", "not sent")

    mobile = models.CharField(_("mobile"), max_length=11)
    purpose = models.CharField(_("purpose"), max_length=32)
    nonce = models.CharField(max_length=64, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.ACTIVE)
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("attempts allowed"))
    sends = models.PositiveSmallIntegerField(_("times sent"), default=0)
    ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    message = models.ForeignKey(
        Message,
        verbose_name=_("last message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("verification code")
        verbose_name_plural = _("verification codes")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "purpose", "-created_at"], name="xunchen_code_lookup"),
            models.Index(fields=["-created_at", "-id"], name="xunchen_code_created"),
        ]

    def __str__(self) -> str:
        return f"{self.mobile} {self.purpose} ({self.state})"

    def __repr__(self) -> str:
        return f"<VerificationCode {self.pk} {self.mobile} {self.purpose} {self.state}>"


class ThrottleBucket(models.Model):
    """A row per throttled key (``mobile:…``, ``ip:…``, ``prefix:…``), locked with
    SELECT … FOR UPDATE while a code request counts and records its send, so that the
    throttles hold across processes and machines."""

    key = models.CharField(max_length=80, primary_key=True)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("throttle bucket")
        verbose_name_plural = _("throttle buckets")

    def __str__(self) -> str:
        return self.key


class ThrottleEvent(models.Model):
    """A code request: sent (it counts against the throttles) or throttled (and why)."""

    class Outcome(models.TextChoices):
        SENT = "sent", pgettext_lazy("throttle outcome", "sent")
        THROTTLED = "throttled", pgettext_lazy("throttle outcome", "throttled")

    class Reason(models.TextChoices):
        NONE = "", "—"
        COOLDOWN = "cooldown", _("resend cooldown")
        HOURLY = "hourly", _("hourly limit per number")
        DAILY = "daily", _("daily limit per number")
        IP = "ip", _("hourly limit per IP")
        PREFIX = "prefix", _("number prefix surge")
        VOLUME = "volume", _("daily volume")

    mobile = models.CharField(_("mobile"), max_length=11)
    prefix = models.CharField(_("prefix"), max_length=11)
    # What the per-IP throttle counts by (verification.throttles.ip_key): an IPv4
    # address, or an IPv6 network ("2001:db8:1:2::/64"); 43 holds "<39 characters>/128".
    ip = models.CharField(  # noqa: DJ001 - NULL: no address was given, as before
        _("client IP"),
        max_length=43,
        null=True,
        blank=True,
        help_text=_(
            "An IPv4 address, or the IPv6 network (a /64 by default) the address belongs to."
        ),
    )
    purpose = models.CharField(_("purpose"), max_length=32)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices, blank=True)
    at = models.DateTimeField(_("time"), default=timezone.now)
    lifted = models.BooleanField(
        _("lifted"), default=False, help_text=_("Staff lifted the throttle: it no longer counts.")
    )

    class Meta:
        verbose_name = _("throttle event")
        verbose_name_plural = _("throttle events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["mobile", "-at"], name="xunchen_thr_mobile"),
            models.Index(fields=["ip", "-at"], name="xunchen_thr_ip"),
            models.Index(fields=["prefix", "-at"], name="xunchen_thr_prefix"),
            models.Index(fields=["-at", "-id"], name="xunchen_thr_at"),
        ]

    def __str__(self) -> str:
        return f"{self.mobile} {self.outcome} {self.reason}"
