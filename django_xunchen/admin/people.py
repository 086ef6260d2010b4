"""The admin of erasures: what stays of each erased person (a keyed digest of the
number, the time, who asked, what was done), never changed or deleted. The export and
erasure themselves are actions of the message list (:mod:`.views.people`)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Erasure


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    """The erasures: what stays of them, never changed or deleted."""

    list_display = ["erased_at", "digest", "requested_by_name", "counts"]
    search_fields = ["=digest"]
    search_help_text = _("The digest of a number (manage.py sms_person shows it).")
    readonly_fields = ["digest", "erased_at", "requested_by", "requested_by_name", "counts"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
