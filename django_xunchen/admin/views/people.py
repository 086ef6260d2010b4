"""One person's data from the message list: the actions that export it (a ZIP of the
JSON and a CSV file per table) and erase it (after a confirmation page), each with its
own permission, and each recorded in the admin log by the number's digest."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ...models import Erasure
from ...people.erase import digest, erase_person
from ...people.export import export_person
from ..audit import audit
from .context import page_context

#: Numbers one erasure action may take.
MAX_NUMBERS = 20


def _numbers(queryset) -> list[str]:
    return sorted(set(queryset.exclude(mobile="").values_list("mobile", flat=True)[:1000]))


@admin.action(
    description=_("Export the person's data of the selected number"), permissions=["export_person"]
)
def export_person_data(model_admin, request, queryset):
    numbers = _numbers(queryset)
    if len(numbers) != 1:
        model_admin.message_user(
            request, _("Select the messages of one number to export its data."), messages.ERROR
        )
        return None
    (number,) = numbers
    data = export_person(number)
    rows = sum(len(r) for r in data.tables.values())
    audit(request, "person_export", Erasure, rows, detail=f"digest {digest(number)[:16]}")
    response = HttpResponse(data.as_zip(), content_type="application/zip")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="person-{stamp}.zip"'
    return response


@admin.action(
    description=_("Erase the person's data of the selected numbers"), permissions=["erase_person"]
)
def erase_person_data(model_admin, request, queryset):
    numbers = _numbers(queryset)
    if not numbers or len(numbers) > MAX_NUMBERS:
        model_admin.message_user(
            request,
            _("Select the messages of 1 to %(max)d numbers to erase their data.")
            % {"max": MAX_NUMBERS},
            messages.ERROR,
        )
        return None
    if request.POST.get("post") == "yes":
        return _erase(model_admin, request, numbers)
    context = page_context(
        model_admin,
        request,
        _("Erase these people's data?"),
        numbers=numbers,
        selected=list(queryset.values_list("pk", flat=True)),
        action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
    )
    return TemplateResponse(
        request, "admin/django_xunchen/message/erase_confirmation.html", context
    )


def _erase(model_admin, request, numbers: list[str]):
    erased, waiting = 0, []
    for number in numbers:
        result = erase_person(number, requested_by=request.user)
        if result.done:
            erased += 1
            rows = sum(result.counts.values())
            audit(request, "erase", Erasure, rows, obj=result.erasure)
        else:
            waiting.append(number)
    text = ngettext(
        "%(count)d person's data erased.", "%(count)d people's data erased.", erased
    ) % {"count": erased}
    if waiting:
        text += " " + _(
            "Not yet for %(numbers)s: raw poll answers or a campaign file holding them are "
            "not processed yet; try again in a few minutes."
        ) % {"numbers": ", ".join(waiting)}
    model_admin.message_user(request, text, messages.WARNING if waiting else messages.SUCCESS)
    return None
