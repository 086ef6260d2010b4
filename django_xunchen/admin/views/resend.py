"""The resend action: a confirmation page listing what will go again, then
:func:`~django_xunchen.sending.send.resend` and a summary of what it did."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ...exceptions import MonthlyCapError
from ...models import Message
from ...policy import spending
from ...sending.send import can_resend, resend
from ..audit import audit
from .context import page_context


def resend_selected(model_admin, request, queryset):
    queryset = queryset.select_related("template")
    if request.POST.get("post") == "yes":
        return _resend(model_admin, request, list(queryset))
    selected = list(queryset)
    sendable = [m for m in selected if can_resend(m)]
    context = page_context(
        model_admin,
        request,
        _("Resend messages?"),
        selected=selected,
        sendable=sendable,
        skipped=len(selected) - len(sendable),
        numbers=len({m.mobile for m in sendable}),
        action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
    )
    return TemplateResponse(
        request, "admin/django_xunchen/message/resend_confirmation.html", context
    )


def _resend(model_admin, request, selected: list[Message]):
    """Resend, say how it went, and show the new messages (their batch)."""
    try:
        created, skipped = resend(selected)
    except MonthlyCapError as exc:
        model_admin.message_user(request, spending.refusal(exc), messages.ERROR)
        return None
    if created:
        audit(request, "resend", Message, len(created), detail=f"batch {created[0].batch}")
    refused = [m for m in created if m.status in (Message.Status.FAILED, Message.Status.UNKNOWN)]
    counts = {"created": len(created), "skipped": len(skipped), "refused": len(refused)}
    parts = [ngettext("Resent %(created)d message.", "Resent %(created)d messages.", len(created))]
    if skipped:
        parts.append(
            ngettext(
                "%(skipped)d skipped (still queued or sending, the template is "
                "inactive, or the text has a word the gateway refused).",
                "%(skipped)d skipped (still queued or sending, the template is "
                "inactive, or the text has a word the gateway refused).",
                len(skipped),
            )
        )
    if refused:
        parts.append(
            ngettext(
                "%(refused)d refused or with unknown outcome.",
                "%(refused)d refused or with unknown outcome.",
                len(refused),
            )
        )
    model_admin.message_user(
        request,
        " ".join(part % counts for part in parts),
        messages.WARNING if skipped or refused else messages.SUCCESS,
    )
    if created:
        url = reverse("admin:django_xunchen_message_changelist")
        return HttpResponseRedirect(f"{url}?{urlencode({'batch': created[0].batch})}")
    return None
