"""What the admin pages show beside the fields: status badges, links to a message, short
times, and the mixins that make gateway records read-only and show the account column."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

from ..client.validation import normalize_mobile
from ..conf import account_names
from ..models import Message

STATUS_COLOURS = {
    Message.Status.QUEUED: "#6c757d",
    Message.Status.SENDING: "#0d6efd",
    Message.Status.SENT: "#0dcaf0",
    Message.Status.DELIVERED: "#198754",
    Message.Status.UNDELIVERED: "#fd7e14",
    Message.Status.FAILED: "#dc3545",
    Message.Status.UNKNOWN: "#6f42c1",
    Message.Status.EXPIRED: "#adb5bd",
    Message.Status.SUPPRESSED: "#795548",
    Message.Status.CANCELLED: "#343a40",
}


def status_badge(status: str, label: str):
    return format_html(
        '<span class="xunchen-status xunchen-status-{}" style="background:{}">{}</span>',
        status,
        STATUS_COLOURS.get(status, "#6c757d"),
        label,
    )


def message_link(message: Message | None):
    if message is None:
        return "—"
    url = reverse("admin:django_xunchen_message_change", args=[message.pk])
    return format_html('<a href="{}">{} · {}</a>', url, message.mobile, message.preview)


ADMIN_MEDIA = {"css": {"all": ["django_xunchen/admin.css"]}}


def conversation_link(mobile: str):
    """A link to every message and reply of ``mobile``, in time order."""
    if normalize_mobile(mobile) is None:
        return "—"
    url = reverse("admin:django_xunchen_message_conversation", args=[mobile])
    return format_html(
        '<a href="{}" class="xunchen-conversation-link">{}</a>',
        url,
        _("Every message and reply of %(mobile)s") % {"mobile": mobile},
    )


def when(value):
    """A time in a list column: short, on one line, the full time on hover."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<span class="xunchen-when" title="{}">{}<br>{}</span>',
        date_format(local, "DATETIME_FORMAT"),
        date_format(local, "Y-m-d"),
        date_format(local, "H:i"),
    )


class ReadOnlyAdminMixin:
    """Gateway records are evidence: nobody edits them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AccountColumnMixin:
    """Shows the account column only where there is more than one account."""

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        if len(account_names()) > 1 and "account" not in columns:
            columns.insert(1, "account")
        return columns
