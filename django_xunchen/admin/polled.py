"""The admins of what polling brought in: delivery reports and replies. Both are evidence
from the gateway, read-only, each linked to the message it was matched to."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..models import InboundMessage, Report
from .display import AccountColumnMixin, ReadOnlyAdminMixin, conversation_link, message_link
from .filters import AccountFilter, MatchedFilter, date_range
from .pagination import LargeTablePaginator


class PolledRecordAdmin(AccountColumnMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Reports and replies: evidence from the gateway, linked to their message."""

    list_select_related = ["message"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    raw_id_fields = ["message"]

    @admin.display(description=_("message"))
    def matched_message(self, obj: Report | InboundMessage):
        return message_link(obj.message)


@admin.register(Report)
class ReportAdmin(PolledRecordAdmin):
    list_display = ["mobile", "msgid", "status", "delivered", "reported_at", "matched_message"]
    list_filter = [
        "delivered",
        AccountFilter,
        MatchedFilter,
        "truncated",
        ("reported_at", date_range(_("reported"))),
        ("received_at", date_range(_("received"))),
    ]
    search_fields = ["=mobile", "=msgid"]
    readonly_fields = [
        "account",
        "mobile",
        "msgid",
        "status",
        "delivered",
        "reported_at",
        "extno",
        "matched_message",
        "received_at",
        "matched_at",
        "truncated",
        "source",
    ]
    fields = readonly_fields


@admin.register(InboundMessage)
class InboundMessageAdmin(PolledRecordAdmin):
    list_display = ["mobile", "content", "received_on", "received_at", "matched_message"]
    list_filter = [
        AccountFilter,
        MatchedFilter,
        "truncated",
        ("received_at", date_range(_("received"))),
    ]
    search_fields = ["=mobile", "content"]
    readonly_fields = [
        "account",
        "mobile",
        "content",
        "received_on",
        "received_at",
        "matched_message",
        "stored_at",
        "truncated",
        "source",
        "conversation",
    ]
    fields = readonly_fields

    @admin.display(description=_("conversation"))
    def conversation(self, obj: InboundMessage):
        return conversation_link(obj.mobile)

    @admin.display(description=_("received on"), ordering="recvcode")
    def received_on(self, obj: InboundMessage):
        """The number the reply was sent to: the account's sender number, then the
        extcode of the message it answers."""
        if not obj.extcode:
            return format_html('<span title="{}">{}</span>', _("the sender number"), obj.recvcode)
        return format_html(
            '<span title="{}">{}</span> <small>{}</small>',
            _("the sender number, then the extcode of the message it answers"),
            obj.recvcode,
            _("extcode %(extcode)s") % {"extcode": obj.extcode},
        )
