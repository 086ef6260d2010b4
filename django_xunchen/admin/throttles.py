"""The throttle event admin: each request for a code the throttles judged, and the action
that lifts a number's throttles
(:func:`~django_xunchen.verification.throttles.lift_throttles`)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..models import ThrottleEvent
from ..verification.throttles import lift_throttles
from .audit import audit
from .display import ReadOnlyAdminMixin
from .filters import date_range
from .pagination import LargeTablePaginator
from .permissions import SMSPermissionsMixin


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
        audit(request, "lift", ThrottleEvent, lifted, detail=f"{len(mobiles)} numbers")
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
