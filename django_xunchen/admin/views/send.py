"""The send page: the form, :func:`~django_xunchen.sending.send.send_sms` on a valid
post, and a summary of what was created."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ...api import get_balances
from ...client.validation import normalize_mobile, split_mobiles
from ...conf import DEFAULT_KIND, KINDS, account_names, route
from ...exceptions import MonthlyCapError, XunchenError
from ...models import Message
from ...policy import spending
from ...sending import admission
from ...sending.send import send_sms
from ..audit import audit
from ..forms import SendSMSForm, preview_settings
from .context import page_context


def send_view(model_admin, request):
    model_admin.require(request, "send")
    form = SendSMSForm(request.POST or None, admin_site=model_admin.admin_site)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            rows = send_sms(
                data["mobiles"],
                (data.get("content") or "").strip() or None,
                template=data.get("template"),
                params=data.get("params") or None,
                extcode=data.get("extcode") or None,
                send_at=data.get("send_at"),
                kind=data["kind"],
                account=data.get("account") or None,
                fail_silently=True,
            )
        except MonthlyCapError as exc:
            form.add_error(None, spending.refusal(exc))
        except XunchenError as exc:
            form.add_error(None, str(exc))
        else:
            report_send(model_admin, request, rows)
            if form.duplicates:
                report_duplicates(model_admin, request, form.duplicates)
            url = reverse("admin:django_xunchen_message_changelist")
            return HttpResponseRedirect(f"{url}?{urlencode({'batch': rows[0].batch})}")
    balances = get_balances() if model_admin.has_check_balance_permission(request) else None
    context = page_context(
        model_admin,
        request,
        _("Send SMS"),
        form=form,
        media=model_admin.media + form.media,
        preview=preview_settings(balances),
    )
    return TemplateResponse(request, "admin/django_xunchen/message/send.html", context)


#: The most characters of numbers the preview looks at (about 25,000 numbers).
PREVIEW_MAX_CHARS = 300_000


def numbers_view(model_admin, request):
    """The send form's preview: how many distinct valid numbers are typed, and how many
    of them would not be sent (suppressed, or over the marketing daily cap), found by
    :func:`~django_xunchen.sending.admission.screen` itself on unsaved rows. Writes
    nothing."""
    model_admin.require(request, "send")
    kind = request.POST.get("kind")
    kind = kind if kind in KINDS else DEFAULT_KIND
    chosen = request.POST.get("account") or None
    account = route(kind, chosen if chosen in account_names() else None)
    typed = request.POST.get("mobiles", "")[:PREVIEW_MAX_CHARS]
    numbers = sorted({m for m in map(normalize_mobile, split_mobiles(typed)) if m})
    rows = [Message(mobile=m, kind=kind, account=account) for m in numbers]
    admission.screen(rows)
    stopped = sum(1 for row in rows if row.status == Message.Status.SUPPRESSED)
    return JsonResponse({"numbers": len(numbers), "suppressed": stopped})


def report_send(model_admin, request, rows: list[Message]) -> None:
    """How many messages were created, per status; a warning with the gateway's error
    when one was refused or its outcome is unknown."""
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.get_status_display()] = by_status.get(row.get_status_display(), 0) + 1
    summary = ", ".join(f"{label}: {n}" for label, n in by_status.items())
    failed = [r for r in rows if r.status in (Message.Status.FAILED, Message.Status.UNKNOWN)]
    level = messages.WARNING if failed else messages.SUCCESS
    text = ngettext(
        "%(count)d message created (%(summary)s).",
        "%(count)d messages created (%(summary)s).",
        len(rows),
    ) % {"count": len(rows), "summary": summary}
    if failed and failed[0].error_message:
        text += " " + failed[0].error_message
    batch = rows[0].batch if rows else None
    audit(request, "send", Message, len(rows), detail=f"batch {batch}" if batch else "")
    model_admin.message_user(request, text, level)


def report_duplicates(model_admin, request, duplicates: list[str]) -> None:
    """The numbers given more than once, each of which got one message."""
    model_admin.message_user(
        request,
        ngettext(
            "%(count)d number was given more than once and got one message: %(numbers)s",
            "%(count)d numbers were given more than once and got one message each: %(numbers)s",
            len(duplicates),
        )
        % {
            "count": len(duplicates),
            "numbers": ", ".join(duplicates[:10]) + ("…" if len(duplicates) > 10 else ""),
        },
        messages.INFO,
    )
