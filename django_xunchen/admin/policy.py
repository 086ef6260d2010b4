"""The admin of the sending policy: the suppression list (with CSV and XLSX import and
export; XLSX needs openpyxl: ``pip install django-xunchen[spreadsheets]``) and the
learned blocked words.

The list is written only through :func:`~django_xunchen.policy.suppression.suppress`,
:func:`~django_xunchen.policy.suppression.suppress_many` (the import: one transaction)
and :func:`~django_xunchen.policy.suppression.unsuppress`, which send ``opted_out`` and
``opted_in``; the words through :mod:`django_xunchen.policy.words`, but for a word's own
change form (a plain save). An imported file is read by :mod:`django_xunchen.uploads`
(sizes, kinds, rows and cells checked: a bad file is a form error), an export written by
:mod:`django_xunchen.exports` (no cell a spreadsheet would run).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..campaigns.spreadsheets import excel_number
from ..client.validation import normalize_mobile
from ..conf import account_names
from ..exports import export_response, xlsx_available
from ..models import BlockedWord, Suppression
from ..policy.suppression import Suppressed, suppress, suppress_many, unsuppress
from ..policy.words import learn_blocked_words, set_blocked_words_active
from ..uploads import UploadError, read_rows, upload_limits
from .audit import audit
from .filters import date_range
from .pagination import LargeTablePaginator

#: The header of a row that is not a number, in the first row of an imported file.
HEADERS = ("mobile", "号码", "手机号", "手机号码", "电话")
#: Rows that are not numbers, listed in the message after an import.
BAD_SHOWN = 20


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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        max_bytes, max_rows = upload_limits()
        limits = _("At most %(size)s and %(rows)d rows besides a header.") % {
            "size": filesizeformat(max_bytes),
            "rows": max_rows,
        }
        self.fields["file"].help_text = f"{self.fields['file'].help_text} {limits}"


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
        suppress(
            obj.mobile,
            source=Suppression.Source.STAFF,
            scope=obj.scope,
            cause=obj.cause,
            staff=request.user,
        )
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
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            bad: list[str] = []
            try:
                done = self._import(upload, form.cleaned_data["scope"], bad)
            except UploadError as exc:
                form.add_error("file", str(exc))
            else:
                audit(request, "import", Suppression, done.added + done.widened, detail=upload.name)
                self.message_user(
                    request,
                    self._summary(done, bad),
                    messages.WARNING if bad else messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:django_xunchen_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import numbers to suppress"),
            "form": form,
            "spreadsheets": True,  # CSV needs nothing; an XLSX without openpyxl is refused
        }
        return TemplateResponse(request, "admin/django_xunchen/suppression/import.html", context)

    @staticmethod
    def _import(upload, scope: str, bad: list[str]) -> Suppressed:
        """Every number of the file's first column onto the list, in one transaction: a
        file found bad on its last row leaves nothing. Rows that are not numbers (but a
        header) are skipped and counted in ``bad``, the first :data:`BAD_SHOWN` named."""
        rows = read_rows(upload, upload.name)  # checks the file before any row is read
        skipped = [0]

        def numbers():
            for index, row in enumerate(rows, start=1):
                value = row[0] if row else ""
                number = normalize_mobile(excel_number(value))
                if number is not None:
                    yield number
                elif (index > 1 or value.lower() not in HEADERS) and (value or len(row) > 1):
                    skipped[0] += 1
                    if len(bad) < BAD_SHOWN:
                        bad.append(f"{index}: {value}"[:40])

        done = suppress_many(numbers(), source=Suppression.Source.IMPORT, scope=scope)
        if skipped[0] > len(bad):
            bad.append("…")
        return done

    @staticmethod
    def _summary(done: Suppressed, bad: list[str]) -> str:
        text = ngettext(
            "%(count)d number added to the suppression list.",
            "%(count)d numbers added to the suppression list.",
            done.added,
        ) % {"count": done.added}
        unchanged = done.widened + done.already
        if unchanged:
            text += " " + ngettext(
                "%(count)d was already on it.", "%(count)d were already on it.", unchanged
            ) % {"count": unchanged}
        if bad:
            text += " " + _("Not numbers, skipped: %(rows)s") % {"rows": ", ".join(bad)}
        return text

    def _export(self, request, queryset, fmt: str):
        if fmt == "xlsx" and not xlsx_available():
            self.message_user(
                request, _("Install django-xunchen[spreadsheets] to export."), messages.ERROR
            )
            return None
        rows = (
            [entry.mobile, entry.scope, entry.source, entry.cause, entry.created_at.isoformat()]
            for entry in queryset.order_by("pk").iterator()
        )
        stamp = timezone.now().strftime("%Y%m%d")
        audit(request, "export", Suppression, queryset.count(), detail=fmt.upper())
        return export_response(
            fmt, f"suppression-{stamp}", ["mobile", "scope", "source", "cause", "since"], rows
        )

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
            audit(request, "import", BlockedWord, len(added))
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

    @admin.action(description=_("Disable the selected words"), permissions=["change"])
    def disable(self, request, queryset):
        set_blocked_words_active(queryset, False)

    @admin.action(description=_("Enable the selected words"), permissions=["change"])
    def enable(self, request, queryset):
        set_blocked_words_active(queryset, True)
