"""The poll journal's admin: each raw answer of the gateway, what became of it, and the
action that gives set-aside entries back to the poll
(:func:`~django_xunchen.polling.journal.retry_set_aside`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import PollJournalEntry
from ..polling.journal import retry_set_aside
from .display import ADMIN_MEDIA, AccountColumnMixin, ReadOnlyAdminMixin
from .filters import AccountFilter
from .permissions import SMSPermissionsMixin

JOURNAL_COLOURS = {
    PollJournalEntry.State.PENDING: "#0d6efd",
    PollJournalEntry.State.DONE: "#198754",
    PollJournalEntry.State.SALVAGED: "#fd7e14",
    PollJournalEntry.State.SET_ASIDE: "#dc3545",
}


@admin.register(PollJournalEntry)
class PollJournalEntryAdmin(
    AccountColumnMixin, SMSPermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "fetched_at",
        "operation",
        "coloured_state",
        "complete",
        "records",
        "attempts",
        "short_error",
    ]
    list_filter = ["operation", "state", "complete", AccountFilter]
    show_full_result_count = False
    actions = ["retry_ingest"]
    change_list_template = "admin/django_xunchen/polljournalentry/change_list.html"
    readonly_fields = [
        "account",
        "operation",
        "coloured_state",
        "complete",
        "fetched_at",
        "ingested_at",
        "records",
        "attempts",
        "error",
        "raw",
    ]
    fields = readonly_fields

    class Media:
        css = ADMIN_MEDIA["css"]

    @admin.display(description=_("state"), ordering="state")
    def coloured_state(self, obj: PollJournalEntry):
        return format_html(
            '<span class="xunchen-status" style="background:{}">{}</span>',
            JOURNAL_COLOURS.get(obj.state, "#6c757d"),
            obj.get_state_display(),
        )

    @admin.display(description=_("last error"))
    def short_error(self, obj: PollJournalEntry) -> str:
        return obj.error[:80]

    @admin.display(description=_("raw response"))
    def raw(self, obj: PollJournalEntry):
        body = bytes(obj.body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("gb18030", errors="replace")
        return format_html('<pre style="white-space:pre-wrap;max-height:30em">{}</pre>', text)

    @admin.action(description=_("Retry ingesting set-aside entries"), permissions=["retry"])
    def retry_ingest(self, request, queryset):
        count = retry_set_aside(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d entry will be ingested again by the next poll.",
                "%(count)d entries will be ingested again by the next poll.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
