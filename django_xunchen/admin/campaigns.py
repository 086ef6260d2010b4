"""The campaign admin: upload a spreadsheet, see what is wrong and what it costs, confirm,
then watch it, pause it, resume it or cancel it.

Permissions: ``add_campaign`` uploads, and sees the campaigns it uploaded with their
check; ``send_campaign`` sees every campaign with its check, and confirms, pauses,
resumes and cancels; ``view_campaign`` alone sees the progress and nothing more. The
problems download is written by :mod:`django_xunchen.exports` (no cell a spreadsheet
would run).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .. import campaigns
from ..campaigns.spreadsheets import SpreadsheetError
from ..campaigns.text import CampaignError
from ..conf import account_names
from ..exceptions import XunchenValidationError
from ..exports import export_response
from ..models import Campaign, Message, Template
from .audit import audit

STATE_COLOURS = {
    Campaign.State.CHECKING: "#6f42c1",
    Campaign.State.DRAFT: "#6c757d",
    Campaign.State.SCHEDULED: "#0d6efd",
    Campaign.State.RUNNING: "#0dcaf0",
    Campaign.State.PAUSED: "#fd7e14",
    Campaign.State.DONE: "#198754",
    Campaign.State.CANCELLED: "#adb5bd",
}
#: The counts the progress panel shows, in order.
SHOWN = [
    Message.Status.QUEUED,
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.FAILED,
    Message.Status.SUPPRESSED,
    Message.Status.CANCELLED,
]


MODEL_FIELDS = ["name", "kind", "account", "template", "content", "send_at"]


class CampaignForm(forms.ModelForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or GBK) or XLSX: a column of mobile numbers and one column per "
            "@n@ parameter. A header row (手机号码, 参数1…) names them; without one, the "
            "columns after the number fill @1@, @2@… in order."
        ),
    )
    number_column = forms.IntegerField(
        label=capfirst(_("number column")),
        required=False,
        min_value=1,
        help_text=_("Leave empty to find it from the header or the first number."),
    )

    parameter_columns = forms.CharField(
        label=capfirst(_("parameter columns")),
        required=False,
        help_text=_(
            "Leave empty to take them from the header. Else, e.g. 1=3, 2=4: @1@ from "
            "column 3 and @2@ from column 4."
        ),
    )

    class Meta:
        model = Campaign
        fields = MODEL_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"] = forms.ChoiceField(
            label=capfirst(_("account")),
            choices=[(n, n) for n in account_names()],
            initial="default",
        )
        self.fields["template"].queryset = Template.objects.filter(is_active=True)

    def clean_parameter_columns(self) -> dict[int, int]:
        text = self.cleaned_data.get("parameter_columns", "").replace("，", ",")
        chosen: dict[int, int] = {}
        for pair in filter(None, (p.strip() for p in text.split(","))):
            name, _sep, column = pair.partition("=")
            name = name.strip().strip("@")
            if not (name.isdigit() and column.strip().isdigit() and int(column) > 0):
                raise forms.ValidationError(
                    _("Write each as n=column, e.g. 1=3, not %(pair)s.") % {"pair": pair}
                )
            chosen[int(name)] = int(column)
        return chosen

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if self.errors or upload is None:
            return data
        campaign = Campaign(**{k: data.get(k) for k in MODEL_FIELDS})
        try:
            data["upload"] = campaigns.check_file(
                campaign,
                upload,
                upload.name,
                mobile_column=data.get("number_column"),
                param_columns=data.get("parameter_columns"),
            )
        except (XunchenValidationError, SpreadsheetError) as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = [
        "name",
        "kind",
        "account",
        "state_badge",
        "rows",
        "valid",
        "created_by",
        "created_at",
    ]
    list_filter = ["state", "kind", "account"]
    search_fields = ["name"]
    date_hierarchy = "created_at"

    @admin.display(description=_("state"), ordering="state")
    def state_badge(self, obj: Campaign):
        return format_html(
            '<span class="xunchen-status" style="background:{}">{}</span>',
            STATE_COLOURS[obj.state],
            obj.get_state_display(),
        )

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_send_permission(self, request) -> bool:
        return request.user.has_perm("django_xunchen.send_campaign")

    def _sees_all(self, request) -> bool:
        """View (or change) sees every campaign, and so does send: one confirms what one
        has seen checked."""
        return super().has_view_permission(request) or self.has_send_permission(request)

    def has_view_permission(self, request, obj=None):
        """Every campaign with view, change or send; with add alone, the campaigns one
        uploaded (their list, and each one's page)."""
        if self._sees_all(request):
            return True
        if not self.has_add_permission(request):
            return False
        return obj is None or (obj.created_by_id or 0) == request.user.pk

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._sees_all(request):
            return queryset
        return queryset.filter(created_by_id=request.user.pk)

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": [*MODEL_FIELDS, "file", "number_column", "parameter_columns"]})]

    def save_model(self, request, obj, form, change):
        upload = form.cleaned_data["file"]
        try:
            campaigns.create_draft(
                obj,
                upload,
                upload.name,
                created_by=request.user,
                mobile_column=form.cleaned_data.get("number_column"),
                param_columns=form.cleaned_data.get("parameter_columns"),
                upload=form.cleaned_data.get("upload"),
            )
        except (XunchenValidationError, SpreadsheetError) as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:django_xunchen_campaign_change", args=[obj.pk]))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = "django_xunchen_campaign_"
        return [
            path("<int:pk>/progress/", wrap(self.progress_view), name=name + "progress"),
            path("<int:pk>/problems.csv", wrap(self.problems_view), name=name + "problems"),
            path("<int:pk>/cancel/", wrap(self.cancel_view), name=name + "cancel"),
            path(
                "<int:pk>/step/<str:step>/",
                wrap(require_POST(self.step_view)),
                name=name + "step",
            ),
            *super().get_urls(),
        ]

    def _get(self, request, pk) -> Campaign:
        campaign = get_object_or_404(
            Campaign.objects.select_related("template", "created_by"), pk=pk
        )
        if not self.has_view_or_change_permission(request, campaign):
            raise PermissionDenied
        return campaign

    def _may_check(self, request) -> bool:
        return self.has_add_permission(request) or self.has_send_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        campaign = self._get(request, object_id)
        progress = campaigns.progress(campaign)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": campaign.name,
            "campaign": campaign,
            "progress": progress,
            "shown": [(s, Message.Status(s).label, progress["counts"][s]) for s in SHOWN],
            "may_send": self.has_send_permission(request),
            "may_check": self._may_check(request),
            "colour": STATE_COLOURS[campaign.state],
        }
        if context["may_check"] and campaign.state == Campaign.State.DRAFT:
            context["preview"] = campaigns.preview(campaign)
            context["problems"] = list(campaigns.problems(campaign)[:50])
            context["estimate"] = campaigns.estimate(campaign)
            context["columns"] = [
                (f"@{n}@", campaign.header[c - 1] if len(campaign.header) >= c else c)
                for n, c in sorted((int(n), c) for n, c in campaign.param_columns.items())
            ]
        return TemplateResponse(request, "admin/django_xunchen/campaign/detail.html", context)

    def progress_view(self, request, pk):
        return JsonResponse(campaigns.progress(self._get(request, pk)))

    def problems_view(self, request, pk):
        campaign = self._get(request, pk)
        if not self._may_check(request):
            raise PermissionDenied
        rows = (
            [row.row, row.mobile, row.get_problem_display(), row.detail_text()]
            for row in campaigns.problems(campaign).iterator(chunk_size=2000)
        )
        header = [_("row"), _("mobile"), _("problem"), _("detail")]
        return export_response("csv", f"campaign-{campaign.pk}-problems.csv", header, rows)

    def cancel_view(self, request, pk):
        """Cancel asks first, as a resend does: what it stops, and what it cannot."""
        campaign = self._get(request, pk)
        if not self.has_send_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Cancel the campaign?"),
            "campaign": campaign,
            "waiting": campaign.messages.filter(status=Message.Status.QUEUED).count(),
        }
        return TemplateResponse(request, "admin/django_xunchen/campaign/cancel.html", context)

    def step_view(self, request, pk, step):
        campaign = self._get(request, pk)
        actions = {
            "confirm": campaigns.confirm,
            "pause": campaigns.pause,
            "resume": campaigns.resume,
            "cancel": campaigns.cancel,
        }
        if step not in actions:
            raise PermissionDenied
        if not self.has_send_permission(request):
            raise PermissionDenied
        try:
            count = actions[step](campaign)
        except CampaignError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            campaign.refresh_from_db(fields=["state", "send_at"])
            audit(request, step, Message, count, obj=campaign)
            self.message_user(request, _step_done(step, count, campaign), messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:django_xunchen_campaign_change", args=[pk]))


def _step_done(step: str, count: int, campaign: Campaign) -> str:
    """What staff read after a step: a scheduled campaign says when it starts."""
    if campaign.state == Campaign.State.SCHEDULED and step in ("confirm", "resume"):
        when = date_format(timezone.localtime(campaign.send_at), "DATETIME_FORMAT")
        texts = {
            "confirm": ngettext(
                "%(count)d message created; the campaign starts at %(time)s.",
                "%(count)d messages created; the campaign starts at %(time)s.",
                count,
            ),
            "resume": ngettext(
                "%(count)d message released; the campaign starts at %(time)s.",
                "%(count)d messages released; the campaign starts at %(time)s.",
                count,
            ),
        }
        return texts[step] % {"count": count, "time": when}
    texts = {
        "confirm": ngettext(
            "%(count)d message created; the campaign is under way.",
            "%(count)d messages created; the campaign is under way.",
            count,
        ),
        "pause": ngettext("%(count)d message held.", "%(count)d messages held.", count),
        "resume": ngettext("%(count)d message released.", "%(count)d messages released.", count),
        "cancel": ngettext("%(count)d message cancelled.", "%(count)d messages cancelled.", count),
    }
    return texts[step] % {"count": count}
