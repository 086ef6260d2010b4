"""The message admin: the list and the detail of every message, the search, and the
doors to its own pages (:mod:`.views`: send, balance, dashboard, resend).

Nobody edits a message here: "Add" opens the send page, and a resend makes new rows.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ..client.validation import normalize_mobile
from ..conf import account_names
from ..models import Message
from ..search import content_contains
from .display import ADMIN_MEDIA, conversation_link, message_link, status_badge, when
from .filters import AccountFilter, ReportOverdueFilter, TagFilter, date_range
from .inlines import ReplyInline, ReportInline, ResendInline
from .pagination import LargeTablePaginator
from .permissions import SMSPermissionsMixin
from .views import analytics, balance, conversation, dashboard, export, people, resend, send


@admin.register(Message)
class MessageAdmin(SMSPermissionsMixin, admin.ModelAdmin):
    #: Fits 1280 px beside the navigation and the filters: the template shows in the
    #: content and the filter, the gateway's error code beside the status.
    list_display = [
        "mobile",
        "content_preview",
        "coloured_status",
        "msgid_cell",
        "created",
        "reported",
    ]
    list_filter = [
        "status",
        "kind",
        AccountFilter,
        TagFilter,
        ReportOverdueFilter,
        "carrier",
        "template",
        ("created_at", date_range(_("created"))),
        ("reported_at", date_range(_("reported"))),
    ]
    search_fields = ["=mobile", "=msgid", "content"]
    search_help_text = _("Exact mobile number or msgid, or words of the content.")
    list_select_related = ["template"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    list_per_page = 50
    raw_id_fields = ["template", "resent_from"]
    actions = [
        "resend_selected",
        "check_balance",
        people.export_person_data,
        people.erase_person_data,
    ]
    inlines = [ReportInline, ReplyInline, ResendInline]
    change_list_template = "admin/django_xunchen/message/change_list.html"

    class Media:
        css = ADMIN_MEDIA["css"]

    fieldsets = [
        (
            None,
            {
                "fields": [
                    "mobile",
                    "carrier",
                    "province",
                    "content",
                    "template",
                    "params",
                    "extcode",
                ]
            },
        ),
        (_("Channel"), {"fields": ["kind", "account", "tags", "metadata"]}),
        (
            _("Gateway"),
            {
                "fields": [
                    "coloured_status",
                    "msgid",
                    "error_code",
                    "error_message",
                    "blocked_words",
                    "report_status",
                    "attempts",
                    "request",
                    "parts",
                ]
            },
        ),
        (
            _("Times"),
            {
                "fields": [
                    "send_at",
                    "hold_until",
                    "expires_at",
                    "created_at",
                    "requested_at",
                    "submitted_at",
                    "reported_at",
                    "latency",
                ]
            },
        ),
        (_("Resend chain"), {"fields": ["resent_from_link", "batch"]}),
        (_("Conversation"), {"fields": ["conversation_link"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return flatten_fieldsets(self.fieldsets)

    def get_list_display(self, request):
        """With several accounts, each number shows its account below it: a column of
        its own would push the last one off a 1280 px screen beside the navigation and
        the filters (``tests/admin/test_widths.py``)."""
        columns = list(super().get_list_display(request))
        if len(account_names()) > 1:
            columns[columns.index("mobile")] = "mobile_and_account"
        return columns

    def get_list_display_links(self, request, list_display):
        return [list_display[0]]

    # ------------------------------------------------------------------ display

    @admin.display(description=_("mobile"), ordering="mobile")
    def mobile_and_account(self, obj: Message):
        return format_html(
            '{}<br><small class="xunchen-account" title="{}">{}</small>',
            obj.mobile,
            _("account"),
            obj.account,
        )

    @admin.display(description=_("content"))
    def content_preview(self, obj: Message):
        return format_html(
            '<span class="xunchen-preview-cell" title="{0}">{0}</span>',
            obj.preview,
        )

    @admin.display(description=_("msgid"), ordering="msgid")
    def msgid_cell(self, obj: Message):
        """Long msgids are cut with an ellipsis; the whole one is in the title, on the
        detail page, and found by the search box."""
        if not obj.msgid:
            return "—"
        return format_html('<span class="xunchen-msgid" title="{0}">{0}</span>', obj.msgid)

    @admin.display(description=_("created"), ordering="created_at")
    def created(self, obj: Message):
        return when(obj.created_at)

    @admin.display(description=_("reported"), ordering="reported_at")
    def reported(self, obj: Message):
        return when(obj.reported_at)

    @admin.display(description=_("status"), ordering="status")
    def coloured_status(self, obj: Message):
        badge = status_badge(obj.status, obj.get_status_display())
        if obj.error_code:
            badge = format_html(
                '{} <small class="xunchen-error-code" title="{}">{}</small>',
                badge,
                obj.error_message or _("gateway error"),
                obj.error_code,
            )
        elif obj.status == Message.Status.UNKNOWN:
            badge = format_html(
                '{} <small class="xunchen-error-code">{}</small>', badge, _("no answer")
            )
        if obj.is_report_overdue:
            return format_html(
                '{} <span class="xunchen-overdue" title="{}">{}</span>',
                badge,
                _(
                    "The gateway's day on which it went out has ended without a delivery "
                    "report; none will come any more."
                ),
                _("no report"),
            )
        return badge

    @admin.display(description=_("conversation"))
    def conversation_link(self, obj: Message):
        return conversation_link(obj.mobile)

    @admin.display(description=_("resent from"))
    def resent_from_link(self, obj: Message):
        return message_link(obj.resent_from)

    def get_search_results(self, request, queryset, search_term):
        """A mobile number or a msgid is looked up alone, on its index; other terms
        search the content for every word, on the bigram index on PostgreSQL
        (:mod:`django_xunchen.search`)."""
        term = search_term.strip()
        mobile = normalize_mobile(term)
        if mobile:
            return queryset.filter(mobile=mobile), False
        if term and term.isascii() and " " not in term and queryset.filter(msgid=term).exists():
            return queryset.filter(msgid=term), False
        words = [
            unescape_string_literal(word)
            if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1
            else word
            for word in smart_split(term)
        ]
        return content_contains(queryset, *words), False

    # ------------------------------------------------------------------ permissions

    def has_add_permission(self, request):
        """Messages are added by sending: "Add" (on the admin index too) opens the send
        form, for staff who may send."""
        return self.has_send_permission(request)

    def add_view(self, request, form_url="", extra_context=None):
        self.require(request, "send")
        return HttpResponseRedirect(reverse("admin:django_xunchen_message_send"))

    def has_change_permission(self, request, obj=None):
        return False

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in ("batch", "resent_from__id__exact"):
            return True
        return super().lookup_allowed(lookup, value, request)

    # ------------------------------------------------------------------ views

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("send/", wrap(self.send_view), name="django_xunchen_message_send"),
            path(
                "send/numbers/",
                wrap(require_POST(self.send_numbers_view)),
                name="django_xunchen_message_send_numbers",
            ),
            path("balance/", wrap(self.balance_view), name="django_xunchen_message_balance"),
            path(
                "conversation/<str:mobile>/",
                wrap(self.conversation_view),
                name="django_xunchen_message_conversation",
            ),
            path(
                "dashboard/",
                wrap(self.dashboard_view),
                name="django_xunchen_message_dashboard",
            ),
            path(
                "analytics/",
                wrap(self.analytics_view),
                name="django_xunchen_message_analytics",
            ),
            path(
                "export/<str:fmt>/",
                wrap(self.export_view),
                name="django_xunchen_message_export",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if (
            request.method == "POST"
            and request.POST.get("action") == "check_balance"
            and not request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
            and self.has_check_balance_permission(request)
        ):
            # The balance is the account's, not the rows': no selection needed.
            return HttpResponseRedirect(reverse("admin:django_xunchen_message_balance"))
        extra_context = {
            **(extra_context or {}),
            "can_send": self.has_send_permission(request),
            "can_check_balance": self.has_check_balance_permission(request),
            "can_view_dashboard": self.has_dashboard_permission(request),
            "can_export": self.has_export_log_permission(request),
            "export_query": request.GET.urlencode(),
        }
        return super().changelist_view(request, extra_context)

    # The pages live in .views; these methods are what a site's subclass overrides.

    def send_view(self, request):
        return send.send_view(self, request)

    def send_numbers_view(self, request):
        return send.numbers_view(self, request)

    def balance_view(self, request):
        return balance.balance_view(self, request)

    def dashboard_view(self, request):
        return dashboard.dashboard_view(self, request)

    def analytics_view(self, request):
        return analytics.analytics_view(self, request)

    def conversation_view(self, request, mobile):
        return conversation.conversation_view(self, request, mobile)

    def export_view(self, request, fmt):
        if fmt not in ("csv", "xlsx"):
            raise Http404
        return export.export_view(self, request, fmt)

    # ------------------------------------------------------------------ actions

    @admin.action(description=_("Resend selected messages"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        return resend.resend_selected(self, request, queryset)

    @admin.action(description=_("Check balance"), permissions=["check_balance"])
    def check_balance(self, request, queryset):
        return HttpResponseRedirect(reverse("admin:django_xunchen_message_balance"))
