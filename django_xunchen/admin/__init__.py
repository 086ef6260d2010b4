"""The admin: send, watch, resend, check the balance, see the delivery rate.

Built to stay fast at millions of rows: no date hierarchy, no full result count,
``list_select_related`` everywhere, raw-id or autocomplete widgets for every foreign key.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..api import get_balances
from ..client.validation import normalize_mobile
from ..conf import account_names
from ..exceptions import XunchenError
from ..models import (
    InboundMessage,
    Message,
    PollJournalEntry,
    Report,
    Template,
    ThrottleEvent,
    VerificationCode,
)
from ..policy.footer import FOOTER
from ..search import content_contains
from ..sending.send import can_resend, resend, send_sms
from ..verification.throttles import lift_throttles
from . import campaigns, dashboard, policy  # noqa: F401 - registers their admins
from .filters import date_range
from .forms import SendSMSForm, TemplateForm, preview_settings
from .pagination import LargeTablePaginator
from .permissions import SMSPermissionsMixin

STATUS_COLOURS = {
    Message.Status.QUEUED: "#6c757d",
    Message.Status.SENDING: "#0d6efd",
    Message.Status.SENT: "#0dcaf0",
    Message.Status.DELIVERED: "#198754",
    Message.Status.UNDELIVERED: "#fd7e14",
    Message.Status.FAILED: "#dc3545",
    Message.Status.UNKNOWN: "#6f42c1",
    Message.Status.EXPIRED: "#adb5bd",
    Message.Status.SUPPRESSED: "#795548",
    Message.Status.CANCELLED: "#343a40",
}


def status_badge(status: str, label: str):
    return format_html(
        '<span class="xunchen-status xunchen-status-{}" style="background:{}">{}</span>',
        status,
        STATUS_COLOURS.get(status, "#6c757d"),
        label,
    )


def message_link(message: Message | None):
    if message is None:
        return "—"
    url = reverse("admin:django_xunchen_message_change", args=[message.pk])
    return format_html('<a href="{}">{} · {}</a>', url, message.mobile, message.preview)


ADMIN_MEDIA = {"css": {"all": ["django_xunchen/admin.css"]}}


class ReadOnlyAdminMixin:
    """Gateway records are evidence: nobody edits them in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class ReportInline(ReadOnlyInline):
    model = Report
    fields = ["status", "delivered", "reported_at", "extno", "received_at"]
    verbose_name_plural = _("delivery reports")


class ReplyInline(ReadOnlyInline):
    model = InboundMessage
    fk_name = "message"
    fields = ["content", "recvcode", "received_at"]
    verbose_name_plural = _("replies")


class ResendInline(ReadOnlyInline):
    model = Message
    fk_name = "resent_from"
    fields = ["mobile", "status", "msgid", "created_at"]
    verbose_name = _("resend")
    verbose_name_plural = _("resent as")


def balance_rows() -> list[dict]:
    """One row per account: its balance, or why it could not be read."""
    rows = []
    for name, found in get_balances().items():
        if isinstance(found, Exception):
            rows.append({"account": name, "balance": None, "error": str(found)})
        else:
            rows.append({"account": name, "balance": found, "error": None})
    return rows


class AccountFilter(admin.SimpleListFilter):
    """The configured accounts, plus any other name found in the rows shown (an account
    since removed from the settings)."""

    title = _("account")
    parameter_name = "account"

    def lookups(self, request, model_admin):
        return [(name, name) for name in account_names()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(account=self.value())
        return queryset


class TagFilter(admin.SimpleListFilter):
    """The tags of the latest messages; filtering works on the full table."""

    title = _("tag")
    parameter_name = "tag"
    SAMPLE = 500

    def lookups(self, request, model_admin):
        found: set[str] = set()
        for tags in Message.objects.order_by("-created_at", "-id").values_list("tags", flat=True)[
            : self.SAMPLE
        ]:
            found.update(t for t in tags or [] if isinstance(t, str))
        value = self.value()
        if value:
            found.add(value)
        return [(t, t) for t in sorted(found)]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.tagged(value)


class ReportOverdueFilter(admin.SimpleListFilter):
    title = _("delivery report")
    parameter_name = "report"

    def lookups(self, request, model_admin):
        return [("overdue", _("never came (the gateway's day ended)"))]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.report_overdue()
        return queryset


def when(value):
    """A time in a list column: short, on one line, the full time on hover."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<span class="xunchen-when" title="{}">{}<br>{}</span>',
        date_format(local, "DATETIME_FORMAT"),
        date_format(local, "Y-m-d"),
        date_format(local, "H:i"),
    )


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
    actions = ["resend_selected", "check_balance"]
    inlines = [ReportInline, ReplyInline, ResendInline]
    change_list_template = "admin/django_xunchen/message/change_list.html"

    class Media:
        css = ADMIN_MEDIA["css"]

    fieldsets = [
        (None, {"fields": ["mobile", "content", "template", "params", "extcode"]}),
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
                ]
            },
        ),
        (_("Resend chain"), {"fields": ["resent_from_link", "batch"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        return flatten_fieldsets(self.fieldsets)

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        if len(account_names()) > 1:
            columns.insert(columns.index("coloured_status"), "account")
        return columns

    # ------------------------------------------------------------------ display

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

    @admin.display(description=_("resent from"))
    def resent_from_link(self, obj: Message):
        return message_link(obj.resent_from)

    def get_search_results(self, request, queryset, search_term):
        """A mobile number or a msgid is looked up alone, on its index; other terms
        search the content, each word on the bigram index on PostgreSQL
        (:mod:`django_xunchen.search`)."""
        term = search_term.strip()
        mobile = normalize_mobile(term)
        if mobile:
            return queryset.filter(mobile=mobile), False
        if term and term.isascii() and " " not in term and queryset.filter(msgid=term).exists():
            return queryset.filter(msgid=term), False
        for word in smart_split(term):
            if word[0] in "\"'" and word[0] == word[-1] and len(word) > 1:
                word = unescape_string_literal(word)
            queryset = content_contains(queryset, word)
        return queryset, False

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
            path("balance/", wrap(self.balance_view), name="django_xunchen_message_balance"),
            path(
                "dashboard/",
                wrap(self.dashboard_view),
                name="django_xunchen_message_dashboard",
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
        }
        return super().changelist_view(request, extra_context)

    def _context(self, request, title, **kwargs):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            **kwargs,
        }

    def send_view(self, request):
        self.require(request, "send")
        form = SendSMSForm(request.POST or None, admin_site=self.admin_site)
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
            except XunchenError as exc:
                form.add_error(None, str(exc))
            else:
                self._report_send(request, rows)
                if form.duplicates:
                    self.message_user(
                        request,
                        ngettext(
                            "%(count)d number was given more than once and got one "
                            "message: %(numbers)s",
                            "%(count)d numbers were given more than once and got one "
                            "message each: %(numbers)s",
                            len(form.duplicates),
                        )
                        % {
                            "count": len(form.duplicates),
                            "numbers": ", ".join(form.duplicates[:10])
                            + ("…" if len(form.duplicates) > 10 else ""),
                        },
                        messages.INFO,
                    )
                url = reverse("admin:django_xunchen_message_changelist")
                return HttpResponseRedirect(f"{url}?{urlencode({'batch': rows[0].batch})}")
        balances = get_balances() if self.has_check_balance_permission(request) else None
        context = self._context(
            request,
            _("Send SMS"),
            form=form,
            media=self.media + form.media,
            preview=preview_settings(balances),
        )
        return TemplateResponse(request, "admin/django_xunchen/message/send.html", context)

    def _report_send(self, request, rows: list[Message]) -> None:
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
        self.message_user(request, text, level)

    def balance_view(self, request):
        self.require(request, "check_balance")
        context = self._context(
            request, _("Gateway balance"), balances=balance_rows(), several=len(account_names()) > 1
        )
        return TemplateResponse(request, "admin/django_xunchen/message/balance.html", context)

    def dashboard_view(self, request):
        self.require(request, "dashboard")
        names = account_names()
        account = request.GET.get("account") or None
        kind = request.GET.get("kind") or None
        account = account if account in names else None
        kind = kind if kind in Message.Kind.values else None
        context = self._context(
            request,
            _("Delivery dashboard"),
            accounts=names if len(names) > 1 else [],
            kinds=Message.Kind.choices,
            chosen_account=account,
            chosen_kind=kind,
            **dashboard.build(
                can_check_balance=self.has_check_balance_permission(request),
                account=account,
                kind=kind,
            ),
        )
        return TemplateResponse(request, "admin/django_xunchen/message/dashboard.html", context)

    # ------------------------------------------------------------------ actions

    @admin.action(description=_("Resend selected messages"), permissions=["resend"])
    def resend_selected(self, request, queryset):
        queryset = queryset.select_related("template")
        if request.POST.get("post") == "yes":
            created, skipped = resend(list(queryset))
            refused = [
                m for m in created if m.status in (Message.Status.FAILED, Message.Status.UNKNOWN)
            ]
            counts = {"created": len(created), "skipped": len(skipped), "refused": len(refused)}
            parts = [
                ngettext(
                    "Resent %(created)d message.", "Resent %(created)d messages.", len(created)
                )
            ]
            if skipped:
                parts.append(
                    ngettext(
                        "%(skipped)d skipped (still queued or sending, the template is "
                        "inactive, or the text has a word the gateway refused).",
                        "%(skipped)d skipped (still queued or sending, the template is "
                        "inactive, or the text has a word the gateway refused).",
                        len(skipped),
                    )
                )
            if refused:
                parts.append(
                    ngettext(
                        "%(refused)d refused or with unknown outcome.",
                        "%(refused)d refused or with unknown outcome.",
                        len(refused),
                    )
                )
            self.message_user(
                request,
                " ".join(part % counts for part in parts),
                messages.WARNING if skipped or refused else messages.SUCCESS,
            )
            if created:
                url = reverse("admin:django_xunchen_message_changelist")
                return HttpResponseRedirect(f"{url}?{urlencode({'batch': created[0].batch})}")
            return None
        selected = list(queryset)
        sendable = [m for m in selected if can_resend(m)]
        context = self._context(
            request,
            _("Resend messages?"),
            selected=selected,
            sendable=sendable,
            skipped=len(selected) - len(sendable),
            numbers=len({m.mobile for m in sendable}),
            action_checkbox_name=admin.helpers.ACTION_CHECKBOX_NAME,
        )
        return TemplateResponse(
            request, "admin/django_xunchen/message/resend_confirmation.html", context
        )

    @admin.action(description=_("Check balance"), permissions=["check_balance"])
    def check_balance(self, request, queryset):
        return HttpResponseRedirect(reverse("admin:django_xunchen_message_balance"))


class AccountColumnMixin:
    """Shows the account column only where there is more than one account."""

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        if len(account_names()) > 1 and "account" not in columns:
            columns.insert(1, "account")
        return columns


@admin.register(Template)
class TemplateAdmin(AccountColumnMixin, admin.ModelAdmin):
    form = TemplateForm
    list_display = [
        "name",
        "template_id",
        "is_active",
        "opt_out_footer",
        "message_count",
        "updated_at",
    ]

    class Media:
        css = ADMIN_MEDIA["css"]

    list_filter = ["is_active", AccountFilter]
    search_fields = ["name", "template_id", "body"]
    readonly_fields = ["placeholder_list", "preview", "message_count", "created_at", "updated_at"]
    fields = [
        "account",
        "name",
        "template_id",
        "body",
        "placeholder_list",
        "preview",
        "is_active",
        "message_count",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).annotate(_message_count=Count("messages"))
        return queryset.order_by(*(self.ordering or Template._meta.ordering))

    @admin.display(description=_("messages sent"), ordering="_message_count")
    def message_count(self, obj: Template):
        count = getattr(obj, "_message_count", None)
        if count is None:
            count = obj.messages.count() if obj.pk else 0
        if not count:
            return 0
        url = reverse("admin:django_xunchen_message_changelist")
        return format_html(
            '<a href="{}?{}">{}</a>', url, urlencode({"template__id__exact": obj.pk}), count
        )

    @admin.display(description=_("opt-out footer"), boolean=True)
    def opt_out_footer(self, obj: Template) -> bool:
        """A marketing template needs one (回T退订); without it, it is refused for
        marketing."""
        return bool(FOOTER.search(obj.body or ""))

    @admin.display(description=_("placeholders"))
    def placeholder_list(self, obj: Template) -> str:
        found = obj.placeholders if obj.body else []
        if not found:
            return _("None. Write @1@, @2@, … where the values go.")
        return ", ".join(f"@{n}@" for n in found)

    @admin.display(description=_("preview"))
    def preview(self, obj: Template):
        if not obj.body:
            return "—"
        samples = {n: f"⟨{_('value')} {n}⟩" for n in obj.placeholders}
        return format_html('<div class="xunchen-preview">{}</div>', obj.render(samples))


class MatchedFilter(admin.SimpleListFilter):
    title = _("matched")
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", _("matched to a message")), ("no", _("orphan"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(message__isnull=False)
        if self.value() == "no":
            return queryset.filter(message__isnull=True)
        return queryset


class PolledRecordAdmin(AccountColumnMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Reports and replies: evidence from the gateway, linked to their message."""

    list_select_related = ["message"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    raw_id_fields = ["message"]

    @admin.display(description=_("message"))
    def matched_message(self, obj: Report | InboundMessage):
        return message_link(obj.message)


@admin.register(Report)
class ReportAdmin(PolledRecordAdmin):
    list_display = ["mobile", "msgid", "status", "delivered", "reported_at", "matched_message"]
    list_filter = [
        "delivered",
        AccountFilter,
        MatchedFilter,
        "truncated",
        ("reported_at", date_range(_("reported"))),
        ("received_at", date_range(_("received"))),
    ]
    search_fields = ["=mobile", "=msgid"]
    readonly_fields = [
        "account",
        "mobile",
        "msgid",
        "status",
        "delivered",
        "reported_at",
        "extno",
        "matched_message",
        "received_at",
        "matched_at",
        "truncated",
        "source",
    ]
    fields = readonly_fields


@admin.register(InboundMessage)
class InboundMessageAdmin(PolledRecordAdmin):
    list_display = ["mobile", "content", "received_on", "received_at", "matched_message"]
    list_filter = [
        AccountFilter,
        MatchedFilter,
        "truncated",
        ("received_at", date_range(_("received"))),
    ]
    search_fields = ["=mobile", "content"]
    readonly_fields = [
        "account",
        "mobile",
        "content",
        "received_on",
        "received_at",
        "matched_message",
        "stored_at",
        "truncated",
        "source",
    ]
    fields = readonly_fields

    @admin.display(description=_("received on"), ordering="recvcode")
    def received_on(self, obj: InboundMessage):
        """The number the reply was sent to: the account's sender number, then the
        extcode of the message it answers."""
        if not obj.extcode:
            return format_html('<span title="{}">{}</span>', _("the sender number"), obj.recvcode)
        return format_html(
            '<span title="{}">{}</span> <small>{}</small>',
            _("the sender number, then the extcode of the message it answers"),
            obj.recvcode,
            _("extcode %(extcode)s") % {"extcode": obj.extcode},
        )


JOURNAL_COLOURS = {
    PollJournalEntry.State.PENDING: "#0d6efd",
    PollJournalEntry.State.DONE: "#198754",
    PollJournalEntry.State.SALVAGED: "#fd7e14",
    PollJournalEntry.State.SET_ASIDE: "#dc3545",
}


@admin.register(PollJournalEntry)
class PollJournalEntryAdmin(
    AccountColumnMixin, SMSPermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin
):
    list_display = [
        "fetched_at",
        "operation",
        "coloured_state",
        "complete",
        "records",
        "attempts",
        "short_error",
    ]
    list_filter = ["operation", "state", "complete", AccountFilter]
    show_full_result_count = False
    actions = ["retry_ingest"]
    change_list_template = "admin/django_xunchen/polljournalentry/change_list.html"
    readonly_fields = [
        "account",
        "operation",
        "coloured_state",
        "complete",
        "fetched_at",
        "ingested_at",
        "records",
        "attempts",
        "error",
        "raw",
    ]
    fields = readonly_fields

    class Media:
        css = ADMIN_MEDIA["css"]

    @admin.display(description=_("state"), ordering="state")
    def coloured_state(self, obj: PollJournalEntry):
        return format_html(
            '<span class="xunchen-status" style="background:{}">{}</span>',
            JOURNAL_COLOURS.get(obj.state, "#6c757d"),
            obj.get_state_display(),
        )

    @admin.display(description=_("last error"))
    def short_error(self, obj: PollJournalEntry) -> str:
        return obj.error[:80]

    @admin.display(description=_("raw response"))
    def raw(self, obj: PollJournalEntry):
        body = bytes(obj.body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("gb18030", errors="replace")
        return format_html('<pre style="white-space:pre-wrap;max-height:30em">{}</pre>', text)

    @admin.action(description=_("Retry ingesting set-aside entries"), permissions=["retry"])
    def retry_ingest(self, request, queryset):
        count = queryset.filter(state=PollJournalEntry.State.SET_ASIDE).update(
            state=PollJournalEntry.State.PENDING, attempts=0
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d entry will be ingested again by the next poll.",
                "%(count)d entries will be ingested again by the next poll.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )


CODE_COLOURS = {
    VerificationCode.State.ACTIVE: "#0d6efd",
    VerificationCode.State.VERIFIED: "#198754",
    VerificationCode.State.DEAD: "#dc3545",
    VerificationCode.State.REPLACED: "#adb5bd",
    VerificationCode.State.FAILED: "#fd7e14",
}


@admin.register(VerificationCode)
class VerificationCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who asked for a code, when, and what became of it. Never the code: it is not in
    the database (only a nonce and a keyed hash, which are not shown either)."""

    list_display = [
        "mobile",
        "purpose",
        "coloured_state",
        "attempts",
        "sends",
        "created_at",
        "expires_at",
        "verified_at",
    ]
    list_filter = [
        "state",
        "purpose",
        ("created_at", date_range(_("created"))),
    ]
    search_fields = ["=mobile"]
    search_help_text = _("Exact mobile number.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    list_select_related = ["message"]
    fields = [
        "mobile",
        "purpose",
        "coloured_state",
        "attempts",
        "max_attempts",
        "sends",
        "ip",
        "created_at",
        "expires_at",
        "last_sent_at",
        "verified_at",
        "message_link",
    ]
    readonly_fields = fields

    class Media:
        css = ADMIN_MEDIA["css"]

    @admin.display(description=_("state"), ordering="state")
    def coloured_state(self, obj: VerificationCode):
        label = obj.get_state_display()
        colour = CODE_COLOURS.get(obj.state, "#6c757d")
        if obj.state == VerificationCode.State.ACTIVE and obj.expires_at <= timezone.now():
            label, colour = _("expired"), "#adb5bd"
        return format_html(
            '<span class="xunchen-status" style="background:{}">{}</span>', colour, label
        )

    @admin.display(description=_("last message"))
    def message_link(self, obj: VerificationCode):
        return message_link(obj.message)


@admin.register(ThrottleEvent)
class ThrottleEventAdmin(SMSPermissionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "mobile", "ip", "purpose", "outcome", "reason", "lifted"]
    list_filter = [
        "outcome",
        "reason",
        "lifted",
        "purpose",
        ("at", date_range(_("time"))),
    ]
    search_fields = ["=mobile", "=ip", "=prefix"]
    search_help_text = _("Exact mobile number, IP address or number prefix.")
    show_full_result_count = False
    paginator = LargeTablePaginator
    actions = ["lift_selected"]
    fields = ["at", "mobile", "prefix", "ip", "purpose", "outcome", "reason", "lifted"]
    readonly_fields = fields

    @admin.action(description=_("Lift the throttles of the selected numbers"), permissions=["lift"])
    def lift_selected(self, request, queryset):
        mobiles = sorted(set(queryset.values_list("mobile", flat=True)))
        lifted = lift_throttles(mobiles)
        self.message_user(
            request,
            ngettext(
                "Lifted the throttles of %(numbers)d number (%(events)d requests no longer count).",
                "Lifted the throttles of %(numbers)d numbers (%(events)d requests no longer "
                "count).",
                len(mobiles),
            )
            % {"numbers": len(mobiles), "events": lifted},
            messages.SUCCESS,
        )
