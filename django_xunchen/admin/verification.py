"""The verification code admin: who asked for a code, when, and what became of it.
Read-only; never the code itself."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import VerificationCode
from .display import ADMIN_MEDIA, ReadOnlyAdminMixin, message_link
from .filters import date_range
from .pagination import LargeTablePaginator

CODE_COLOURS = {
    VerificationCode.State.ACTIVE: "#0d6efd",
    VerificationCode.State.VERIFIED: "#198754",
    VerificationCode.State.DEAD: "#dc3545",
    VerificationCode.State.REPLACED: "#adb5bd",
    VerificationCode.State.FAILED: "#fd7e14",
}


@admin.register(VerificationCode)
class VerificationCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who asked for a code, when, and what became of it. Never the code: it is not in
    the database (only a nonce and a keyed hash, which are not shown either)."""

    list_display = [
        "mobile",
        "purpose",
        "coloured_state",
        "attempts",
        "sends",
        "created_at",
        "expires_at",
        "verified_at",
    ]
    list_filter = [
        "state",
        "purpose",
        ("created_at", date_range(_("created"))),
    ]
    search_fields = ["=mobile"]
    search_help_text = _("Exact mobile number.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    list_select_related = ["message"]
    fields = [
        "mobile",
        "purpose",
        "coloured_state",
        "attempts",
        "max_attempts",
        "sends",
        "ip",
        "created_at",
        "expires_at",
        "last_sent_at",
        "verified_at",
        "message_link",
    ]
    readonly_fields = fields

    class Media:
        css = ADMIN_MEDIA["css"]

    @admin.display(description=_("state"), ordering="state")
    def coloured_state(self, obj: VerificationCode):
        label = obj.get_state_display()
        colour = CODE_COLOURS.get(obj.state, "#6c757d")
        if obj.state == VerificationCode.State.ACTIVE and obj.expires_at <= timezone.now():
            label, colour = _("expired"), "#adb5bd"
        return format_html(
            '<span class="xunchen-status" style="background:{}">{}</span>', colour, label
        )

    @admin.display(description=_("last message"))
    def message_link(self, obj: VerificationCode):
        return message_link(obj.message)
