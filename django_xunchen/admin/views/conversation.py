"""One number's conversation: the messages sent to it and its replies in time order,
with their statuses, its place on the suppression list and its consent to marketing, and
a reply box. A reply is
a notification sent by :func:`~django_xunchen.sending.send.send_sms`, so through
admission like every other send, and only for staff who may send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ...client.validation import MAX_CONTENT_LENGTH, normalize_mobile
from ...conf import account_names, route
from ...exceptions import XunchenError
from ...models import Consent, InboundMessage, Message, Suppression
from ...models.consent import MARKETING
from ...sending.send import send_sms
from ..display import status_badge
from .context import page_context
from .send import report_send

#: The most recent messages, and replies, shown.
LIMIT = 200


@dataclass
class Entry:
    """One line of the thread: a message sent (``reply`` is ``None``) or a reply."""

    at: datetime
    message: Message | None = None
    reply: InboundMessage | None = None
    badge: str = ""


class ReplyForm(forms.Form):
    content = forms.CharField(
        label=_("Reply"),
        max_length=MAX_CONTENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Sent as a notification, with the account's signature."),
    )
    account = forms.ChoiceField(label=_("Account"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(name, name) for name in account_names()]


def conversation_view(model_admin, request, mobile: str):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    number = normalize_mobile(mobile)
    if number is None:
        raise Http404(_("Not a mainland China mobile number."))
    sent = list(
        Message.objects.filter(mobile=number)
        .select_related("template")
        .order_by("-created_at")[:LIMIT]
    )
    may_reply = model_admin.has_send_permission(request)
    form = ReplyForm(
        request.POST if request.method == "POST" else None,
        initial={"account": sent[0].account if sent else route(Message.Kind.NOTIFICATION)},
    )
    if request.method == "POST":
        model_admin.require(request, "send")
        if form.is_valid():
            try:
                rows = send_sms(
                    [number],
                    form.cleaned_data["content"],
                    kind=Message.Kind.NOTIFICATION,
                    account=form.cleaned_data["account"],
                    fail_silently=True,
                )
            except XunchenError as exc:
                form.add_error(None, str(exc))
            else:
                report_send(model_admin, request, rows)
                url = reverse("admin:django_xunchen_message_conversation", args=[number])
                return HttpResponseRedirect(url)
    shows_replies = request.user.has_perm("django_xunchen.view_inboundmessage")
    replies: list[InboundMessage] = []
    if shows_replies:
        replies = list(InboundMessage.objects.filter(mobile=number).order_by("-stored_at")[:LIMIT])
    thread = sorted(
        [
            Entry(m.created_at, message=m, badge=status_badge(m.status, m.get_status_display()))
            for m in sent
        ]
        + [Entry(r.received_at or r.stored_at, reply=r) for r in replies],
        key=lambda entry: entry.at,
    )
    context = page_context(
        model_admin,
        request,
        _("Conversation with %(mobile)s") % {"mobile": number},
        mobile=number,
        thread=thread,
        limit=LIMIT,
        limited=len(sent) == LIMIT or len(replies) == LIMIT,
        shows_replies=shows_replies,
        suppression=Suppression.objects.filter(mobile=number).first(),
        consent=Consent.objects.filter(mobile=number, scope=MARKETING)
        .order_by("-at", "-id")
        .first(),
        shows_evidence=request.user.has_perm("django_xunchen.view_consent_evidence"),
        form=form if may_reply else None,
    )
    return TemplateResponse(request, "admin/django_xunchen/message/conversation.html", context)
