"""What a message's page shows below it: its delivery reports, its replies and the
messages it was resent as, all read-only."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import InboundMessage, Message, Report
from .display import ReadOnlyAdminMixin


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class ReportInline(ReadOnlyInline):
    model = Report
    fields = ["status", "delivered", "reported_at", "extno", "received_at"]
    verbose_name_plural = _("delivery reports")


class ReplyInline(ReadOnlyInline):
    model = InboundMessage
    fk_name = "message"
    fields = ["content", "recvcode", "received_at"]
    verbose_name_plural = _("replies")


class ResendInline(ReadOnlyInline):
    model = Message
    fk_name = "resent_from"
    fields = ["mobile", "status", "msgid", "created_at"]
    verbose_name = _("resend")
    verbose_name_plural = _("resent as")
