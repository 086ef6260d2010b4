"""The admin of the sending policy: the suppression list (with CSV and XLSX import and
export, through tablib: ``pip install django-xunchen[spreadsheets]``) and the learned
blocked words.

The list is written only through :func:`~django_xunchen.policy.suppression.suppress` and
:func:`~django_xunchen.policy.suppression.unsuppress`, which send ``opted_out``; the
words through :mod:`django_xunchen.policy.words`, but for a word's own change form (a
plain save).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..campaigns.spreadsheets import excel_number
from ..client.validation import normalize_mobile
from ..conf import account_names
from ..models import BlockedWord, Suppression
from ..policy.suppression import suppress, unsuppress
from ..policy.words import learn_blocked_words, set_blocked_words_active
from .filters import date_range
from .pagination import LargeTablePaginator

FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.ms-excel"}


def tablib_or_none():
    try:
        import tablib
    except ImportError:
        return None
    return tablib


class SuppressionForm(forms.ModelForm):
    mobile = forms.CharField(
        label=_("mobile"),
        max_length=30,
        help_text=_("+86, spaces and dashes are fine."),
    )

    class Meta:
        model = Suppression
        fields = ["mobile", "scope", "cause"]

    def clean_mobile(self) -> str:
        number = normalize_mobile(self.cleaned_data["mobile"])
        if not number:
            raise forms.ValidationError(_("Enter a mainland China mobile number."))
        return number


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or GBK) or XLSX; the first column holds the numbers."),
    )
    scope = forms.ChoiceField(label=_("scope"), choices=Suppression.Scope.choices)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionForm
    list_display = ["mobile", "scope", "source", "cause", "created_at"]
    list_filter = [
        "scope",
        "source",
        ("created_at", date_range(_("since"))),
    ]
    search_fields = ["=mobile"]
    search_help_text = _("Exact mobile number.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    actions = ["export_csv", "export_xlsx"]
    change_list_template = "admin/django_xunchen/suppression/change_list.html"

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        suppress(obj.mobile, source=Suppression.Source.STAFF, scope=obj.scope, cause=obj.cause)
        obj.pk = Suppression.objects.get(mobile=obj.mobile).pk

    def delete_model(self, request, obj):
        unsuppress(obj.mobile)

    def delete_queryset(self, request, queryset):
        for mobile in list(queryset.values_list("mobile", flat=True)):
            unsuppress(mobile)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "import/",
                wrap(self.import_view),
                name="django_xunchen_suppression_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        tablib = tablib_or_none()
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and tablib is None:
            form.add_error(None, _("Install django-xunchen[spreadsheets] to import files."))
        elif request.method == "POST" and form.is_valid():
            added, bad = self._import(tablib, form.cleaned_data["file"], form.cleaned_data["scope"])
            text = ngettext(
                "%(count)d number added to the suppression list.",
                "%(count)d numbers added to the suppression list.",
                added,
            ) % {"count": added}
            if bad:
                text += " " + _("Not numbers, skipped: %(rows)s") % {"rows": ", ".join(bad[:20])}
            self.message_user(request, text, messages.WARNING if bad else messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:django_xunchen_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import numbers to suppress"),
            "form": form,
            "spreadsheets": tablib is not None,
        }
        return TemplateResponse(request, "admin/django_xunchen/suppression/import.html", context)

    @staticmethod
    def _import(tablib, upload, scope) -> tuple[int, list[str]]:
        raw = upload.read()
        if upload.name.lower().endswith(".xlsx"):
            data = tablib.Dataset().load(raw, format="xlsx", headers=False)
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")
            data = tablib.Dataset().load(text, format="csv", headers=False)
        added, bad = 0, []
        for index, row in enumerate(data, start=1):
            value = str(row[0] if row else "").strip()
            number = normalize_mobile(excel_number(value))
            if number is None:
                if index > 1 or value.lower() not in ("mobile", "号码", "手机号"):
                    bad.append(f"{index}: {value}"[:40])
                continue
            suppress(number, source=Suppression.Source.IMPORT, scope=scope)
            added += 1
        return added, bad

    def _export(self, request, queryset, fmt: str):
        tablib = tablib_or_none()
        if tablib is None:
            self.message_user(
                request, _("Install django-xunchen[spreadsheets] to export."), messages.ERROR
            )
            return None
        data = tablib.Dataset(headers=["mobile", "scope", "source", "cause", "since"])
        for entry in queryset.order_by("pk").iterator():
            data.append(
                [entry.mobile, entry.scope, entry.source, entry.cause, entry.created_at.isoformat()]
            )
        response = HttpResponse(data.export(fmt), content_type=FORMATS[fmt])
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="suppression-{stamp}.{fmt}"'
        return response

    @admin.action(description=_("Export the selected numbers as CSV"))
    def export_csv(self, request, queryset):
        return self._export(request, queryset, "csv")

    @admin.action(description=_("Export the selected numbers as XLSX"))
    def export_xlsx(self, request, queryset):
        return self._export(request, queryset, "xlsx")


class BlockedWordForm(forms.ModelForm):
    account = forms.ChoiceField(label=_("account"))

    class Meta:
        model = BlockedWord
        fields = ["account", "word", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(n, n) for n in account_names()]


class WordListForm(forms.Form):
    account = forms.ChoiceField(label=_("account"))
    words = forms.CharField(
        label=_("Words"), widget=forms.Textarea(attrs={"rows": 10}), help_text=_("One per line.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(n, n) for n in account_names()]


@admin.register(BlockedWord)
class BlockedWordAdmin(admin.ModelAdmin):
    form = BlockedWordForm
    list_display = ["word", "account", "is_active", "source", "created_at"]
    list_filter = ["is_active", "account"]
    search_fields = ["word"]
    raw_id_fields = ["source"]
    actions = ["disable", "enable"]
    change_list_template = "admin/django_xunchen/blockedword/change_list.html"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="django_xunchen_blockedword_import"),
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = WordListForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            words = form.cleaned_data["words"].splitlines()
            added = learn_blocked_words(form.cleaned_data["account"], words, None)
            self.message_user(
                request,
                ngettext("%(count)d word added.", "%(count)d words added.", len(added))
                % {"count": len(added)},
            )
            return HttpResponseRedirect(reverse("admin:django_xunchen_blockedword_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import blocked words"),
            "form": form,
            "spreadsheets": True,
        }
        return TemplateResponse(request, "admin/django_xunchen/suppression/import.html", context)

    @admin.action(description=_("Disable the selected words"))
    def disable(self, request, queryset):
        set_blocked_words_active(queryset, False)

    @admin.action(description=_("Enable the selected words"))
    def enable(self, request, queryset):
        set_blocked_words_active(queryset, True)
