"""The admin of the consent ledger: the entries (never changed or deleted here), a grant
or withdrawal recorded by staff, the import of consents a site already holds, and one
number's evidence document (HTML to print, or JSON), for staff with the permission
``view_consent_evidence``.

Entries are written only through :mod:`django_xunchen.consent` (``grant_consent``,
``withdraw_consent``, :func:`~django_xunchen.consent.imports.import_consents`)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..client.validation import normalize_mobile
from ..consent.api import grant_consent, withdraw_consent
from ..consent.evidence import evidence_document
from ..consent.imports import import_consents
from ..consent.ledger import InvalidScopeError, clean_scope
from ..models import Consent
from ..models.consent import MARKETING
from ..uploads import UploadError, upload_limits
from .audit import audit
from .filters import date_range
from .pagination import LargeTablePaginator

EVIDENCE_PERMISSION = "django_xunchen.view_consent_evidence"


def _scope_field() -> forms.CharField:
    return forms.CharField(
        label=_("scope"),
        initial=MARKETING,
        max_length=64,
        help_text=_('"marketing", or the name of a list.'),
    )


def _checked_scope(value: str) -> str:
    try:
        return clean_scope(value)
    except InvalidScopeError as exc:
        raise forms.ValidationError(str(exc)) from None


class ConsentForm(forms.ModelForm):
    """A grant or withdrawal staff record (told by phone, on paper): source ``staff``."""

    mobile = forms.CharField(
        label=_("mobile"), max_length=30, help_text=_("+86, spaces and dashes are fine.")
    )
    scope = _scope_field()

    class Meta:
        model = Consent
        fields = ["mobile", "scope", "granted", "at", "wording", "note"]

    def clean_mobile(self) -> str:
        number = normalize_mobile(self.cleaned_data["mobile"])
        if not number:
            raise forms.ValidationError(_("Enter a mainland China mobile number."))
        return number

    def clean_scope(self) -> str:
        return _checked_scope(self.cleaned_data["scope"])

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at is not None and at > timezone.now():
            raise forms.ValidationError(_("A consent cannot be dated in the future."))
        return at


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_(
            "CSV (UTF-8 or GBK) or XLSX; the first column holds the numbers, an optional "
            "second column when each person agreed (2024-05-01 or 2024-05-01 14:30)."
        ),
    )
    scope = _scope_field()
    wording = forms.CharField(
        label=_("wording"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The text these people agreed to."),
    )
    note = forms.CharField(
        label=_("note"),
        max_length=500,
        help_text=_("Where these consents come from (a sign-up form, a shop's register…)."),
    )
    agreed_at = forms.DateTimeField(
        label=_("agreed on"),
        required=False,
        help_text=_("For rows without a date of their own (2024-05-01 or 2024-05-01 14:30)."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        max_bytes, max_rows = upload_limits()
        limits = _("At most %(size)s and %(rows)d rows besides a header.") % {
            "size": filesizeformat(max_bytes),
            "rows": max_rows,
        }
        self.fields["file"].help_text = f"{self.fields['file'].help_text} {limits}"

    def clean_scope(self) -> str:
        return _checked_scope(self.cleaned_data["scope"])


class EvidenceForm(forms.Form):
    mobile = forms.CharField(label=_("mobile"), max_length=30)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    form = ConsentForm
    list_display = ["mobile", "scope", "granted", "at", "source", "staff_name", "evidence"]
    list_filter = ["granted", "source", ("at", date_range(_("when")))]
    search_fields = ["=mobile"]
    search_help_text = _("Exact mobile number.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    readonly_fields = [
        "recorded_at",
        "source",
        "ip",
        "user_agent",
        "file_name",
        "file_row",
        "staff_name",
        "reply",
    ]
    change_list_template = "admin/django_xunchen/consent/change_list.html"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if request.user.has_perm(EVIDENCE_PERMISSION):
            return shown
        return [name for name in shown if name != "evidence"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["mobile", "scope", "granted", "at", "wording", "note"]
        return [
            "mobile",
            "scope",
            "granted",
            "at",
            "wording",
            "note",
            *self.readonly_fields,
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["mobile", "scope", "granted", "at", "wording", "note", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        record = grant_consent if obj.granted else withdraw_consent
        values = {"scope": obj.scope, "at": obj.at, "staff": request.user, "note": obj.note}
        if obj.granted:
            values["wording"] = obj.wording
        # The request is staff's own: its address is no evidence of the person's consent.
        entry = record(obj.mobile, source=Consent.Source.STAFF, **values)
        obj.pk = entry.pk

    @admin.display(description=_("evidence"))
    def evidence(self, obj: Consent):
        url = reverse("admin:django_xunchen_consent_evidence", args=[obj.mobile])
        return format_html('<a href="{}">{}</a>', url, _("Evidence"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="django_xunchen_consent_import"),
            path("evidence/", wrap(self.find_evidence_view), name="django_xunchen_consent_find"),
            path(
                "evidence/<str:mobile>/",
                wrap(self.evidence_view),
                name="django_xunchen_consent_evidence",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_see_evidence": request.user.has_perm(EVIDENCE_PERMISSION)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                done = import_consents(
                    upload,
                    upload.name,
                    scope=form.cleaned_data["scope"],
                    wording=form.cleaned_data["wording"],
                    note=form.cleaned_data["note"],
                    staff=request.user,
                    agreed_at=form.cleaned_data["agreed_at"],
                )
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                audit(request, "import", Consent, done.granted, detail=upload.name)
                text = ngettext(
                    "%(count)d consent imported.", "%(count)d consents imported.", done.granted
                ) % {"count": done.granted}
                self.message_user(request, text, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:django_xunchen_consent_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import consents"),
            "form": form,
            "spreadsheets": True,
        }
        return TemplateResponse(request, "admin/django_xunchen/suppression/import.html", context)

    def find_evidence_view(self, request):
        if not request.user.has_perm(EVIDENCE_PERMISSION):
            raise PermissionDenied
        form = EvidenceForm(request.GET or None)
        if form.is_valid():
            number = normalize_mobile(form.cleaned_data["mobile"])
            if number:
                url = reverse("admin:django_xunchen_consent_evidence", args=[number])
                return HttpResponseRedirect(url)
            form.add_error("mobile", _("Enter a mainland China mobile number."))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Consent evidence"),
            "form": form,
        }
        return TemplateResponse(request, "admin/django_xunchen/consent/find.html", context)

    def evidence_view(self, request, mobile):
        if not request.user.has_perm(EVIDENCE_PERMISSION):
            raise PermissionDenied
        number = normalize_mobile(mobile)
        if number is None:
            raise Http404(_("Not a mainland China mobile number."))
        document = evidence_document(number)
        if request.GET.get("format") == "json":
            response = HttpResponse(document.as_json(), content_type="application/json")
            response["Content-Disposition"] = f'attachment; filename="consent-{number}.json"'
            return response
        return HttpResponse(document.as_html())
