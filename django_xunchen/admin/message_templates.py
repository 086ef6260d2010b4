"""The admin of message templates (the vendor-registered texts with @n@ placeholders):
not to be confused with Django's HTML templates.

Staff edit a template through its form; a plain model save, checked by the form and
:meth:`~django_xunchen.models.Template.clean`. The opt-out footer is not required here:
a template without one is only refused for marketing, when it is used.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from ..models import Template
from ..policy.footer import FOOTER
from .display import ADMIN_MEDIA, AccountColumnMixin
from .filters import AccountFilter
from .forms import TemplateForm


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
