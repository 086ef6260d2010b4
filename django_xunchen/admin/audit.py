"""Django's admin log, shown read-only and filterable by user and by the app's own
actions (:mod:`django_xunchen.operations.audit` writes them). Registered unless the site
registered ``LogEntry`` itself."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..operations.audit import ACTIONS, audit

__all__ = ["ACTIONS", "ActionFilter", "AuditLogAdmin", "audit"]


class ActionFilter(admin.SimpleListFilter):
    title = _("action")
    parameter_name = "sms_action"

    def lookups(self, request, model_admin):
        return list(ACTIONS.items())

    def queryset(self, request, queryset):
        value = self.value()
        if value in ACTIONS:
            return queryset.filter(object_repr__startswith=f"{value}: ")
        return queryset


class AuditLogAdmin(admin.ModelAdmin):
    """Django's admin log, read-only: who did what, filterable by user and action."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag"]
    list_filter = [ActionFilter, "action_flag", "user", "content_type"]
    search_fields = ["object_repr", "change_message"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


if not admin.site.is_registered(LogEntry):
    admin.site.register(LogEntry, AuditLogAdmin)
