"""Webhook endpoints (made here, the secret shown once on the page after saving) and
their deliveries with every attempt, read-only but for the replay. Writes go through
:mod:`django_xunchen.webhooks`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from ..conf import account_names, webhook_settings
from ..models import EventType, Message, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ..webhooks import addresses, delivery, endpoints, payloads
from .display import ReadOnlyAdminMixin


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label=_("URL"),
        max_length=500,
        assume_scheme="https",
        help_text=WebhookEndpoint._meta.get_field("url").help_text,
    )
    events = forms.MultipleChoiceField(
        label=_("events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )
    account = forms.ChoiceField(label=_("account"), required=False)
    kind = forms.ChoiceField(
        label=_("kind"),
        required=False,
        choices=[("", _("every kind")), *Message.Kind.choices],
        help_text=WebhookEndpoint._meta.get_field("kind").help_text,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "account", "kind", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [
            ("", _("every account")),
            *((n, n) for n in account_names()),
        ]
        self.fields["account"].help_text = WebhookEndpoint._meta.get_field("account").help_text

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        allow = bool(webhook_settings()["ALLOW_PRIVATE_ADDRESSES"])
        addresses.validate_url(url, allow_private=allow)
        return url

    def clean_events(self) -> list[str]:
        return sorted(self.cleaned_data["events"])


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["name", "url", "event_list", "is_active", "failing_since", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["name", "url"]
    readonly_fields = [
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "created_by",
        "created_at",
    ]

    @admin.display(description=_("events"))
    def event_list(self, obj: WebhookEndpoint) -> str:
        return ", ".join(e for e in obj.events if e in EventType.values)

    @method_decorator(sensitive_variables("shown"))
    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            obj.created_by = request.user
        shown = endpoints.save_endpoint(obj)
        if shown is not None:
            request._xunchen_new_webhook_secret = shown

    @method_decorator(sensitive_variables("shown", "context"))
    def response_add(
        self, request: HttpRequest, obj: WebhookEndpoint, post_url_continue: str | None = None
    ) -> HttpResponse:
        shown = getattr(request, "_xunchen_new_webhook_secret", None)
        if shown is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("The new endpoint's secret"),
            "secret": shown,
            "object": obj,
        }
        response = TemplateResponse(
            request, "admin/django_xunchen/webhookendpoint/created.html", context
        )
        response["Cache-Control"] = "no-store"
        return response


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "status_code", "error", "response", "duration_ms", "replay"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-at", "-id"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "event_uuid",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["=event__event_id"]
    list_select_related = ["event", "endpoint"]
    show_full_result_count = False
    actions = ["replay_selected"]
    inlines = [AttemptInline]
    fields = [
        "event_uuid",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "next_attempt_at",
        "retry_until",
        "delivered_at",
        "replayed_at",
        "created_at",
        "payload",
    ]
    readonly_fields = fields

    @admin.display(description=_("event"), ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @admin.display(description=_("event id"))
    def event_uuid(self, obj: WebhookDelivery) -> str:
        return str(obj.event.event_id)

    @admin.display(description=_("payload"))
    def payload(self, obj: WebhookDelivery) -> str:
        return payloads.body(obj.event.payload).decode() if obj.event.payload else "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Replay the selected deliveries"), permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: Any) -> None:
        count = delivery.replay(queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery will be sent again, with the same event id.",
                "%(count)d deliveries will be sent again, with the same event ids.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("django_xunchen.replay_webhookdelivery")
