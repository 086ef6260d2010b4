"""The admin of :class:`SMSDevice`, after django-otp's own device admins (otp_email's):
the user, the name, the number, when it was made and last used, django-otp's throttle.
There is no token to show: none is stored."""

from __future__ import annotations

import contextlib

from django.contrib import admin
from django.contrib.admin.sites import AlreadyRegistered
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .models import SMSDevice


def _search_fields() -> list[str]:
    """The user's username and e-mail (when the user model has them), and the number."""
    user_model = get_user_model()
    names = {f.name for f in user_model._meta.get_fields()}
    fields = [f"user__{name}" for name in dict.fromkeys([user_model.USERNAME_FIELD, "email"])]
    return [f for f in fields if f.removeprefix("user__") in names] + ["number"]


class SMSDeviceAdmin(admin.ModelAdmin):
    """:class:`~django.contrib.admin.ModelAdmin` for
    :class:`~django_xunchen.integrations.otp.models.SMSDevice`."""

    list_display = ["user", "name", "number", "created_at", "last_used_at", "confirmed"]
    list_filter = ["created_at", "last_used_at", "confirmed"]
    raw_id_fields = ["user"]
    readonly_fields = [
        "created_at",
        "last_used_at",
        "throttling_failure_count",
        "throttling_failure_timestamp",
    ]
    search_fields = _search_fields()

    fieldsets = [
        (_("Identity"), {"fields": ["user", "name", "confirmed"]}),
        (_("Timestamps"), {"fields": ["created_at", "last_used_at"]}),
        (_("Configuration"), {"fields": ["number"]}),
        (
            _("Wrong tokens"),
            {"fields": ["throttling_failure_count", "throttling_failure_timestamp"]},
        ),
    ]


# As django-otp's plugins do: an admin module imported twice must not fail.
with contextlib.suppress(AlreadyRegistered):
    admin.site.register(SMSDevice, SMSDeviceAdmin)
