"""The HTTP API's keys (made here, the key shown once on the page after saving, never
again) and its request log, read-only. Writes go through
:func:`~django_xunchen.httpapi.keys.save_key`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..conf import account_names
from ..httpapi import keys
from ..models import ApiKey, ApiRequest, Message
from .display import ReadOnlyAdminMixin
from .filters import date_range
from .pagination import LargeTablePaginator


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    kinds = forms.MultipleChoiceField(
        label=_("kinds"),
        choices=Message.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=ApiKey._meta.get_field("kinds").help_text,
    )
    accounts = forms.MultipleChoiceField(
        label=_("accounts"),
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=ApiKey._meta.get_field("accounts").help_text,
    )

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "kinds", "accounts", "allowed_ips", "per_minute", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["accounts"].choices = [(n, n) for n in account_names()]

    def clean_scopes(self) -> list[str]:
        return sorted(self.cleaned_data["scopes"])

    def clean_kinds(self) -> list[str]:
        return sorted(self.cleaned_data["kinds"])

    def clean_accounts(self) -> list[str]:
        return sorted(self.cleaned_data["accounts"])

    def clean_allowed_ips(self) -> str:
        value = self.cleaned_data["allowed_ips"]
        try:
            keys.networks(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "masked", "scope_list", "is_active", "last_used_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "=prefix"]
    readonly_fields = ["masked", "created_by", "created_at", "last_used_at"]

    @admin.display(description=_("key"))
    def masked(self, obj: ApiKey) -> str:
        return f"xc_{obj.prefix}_…" if obj.prefix else "—"

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(str(ApiKey.Scope(s).label) for s in obj.scopes if s in ApiKey.Scope.values)

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
        shown = keys.save_key(obj)
        if shown is not None:
            request._xunchen_new_api_key = shown

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        shown = getattr(request, "_xunchen_new_api_key", None)
        if shown is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("The new API key"),
            "key": shown,
            "object": obj,
        }
        response = TemplateResponse(request, "admin/django_xunchen/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response


@admin.register(ApiRequest)
class ApiRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "api_key", "method", "path", "status", "error", "ip", "idempotency_key"]
    list_filter = ["status", "method", "api_key", ("at", date_range(_("time")))]
    search_fields = ["=ip", "=idempotency_key", "error"]
    list_select_related = ["api_key"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    fields = list_display
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log of who called the API: kept, until sms_cleanup
