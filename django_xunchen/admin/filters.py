"""The admin's list filters: the account, a message's tag, a delivery report that never
came, whether a polled record matched a message; and date ranges.

The date range filters take a date alone, with quick ranges. django-admin-rangefilter's
date-time filter asks for a date *and* a time on each side and, given a date alone, says
"Enter a valid time." and filters nothing. Here a time is optional: a date alone means
the start of that day ("from") or its end ("to"). Above the form, links give today, the
last 7 days and the last 30 days.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AdminTimeWidget
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rangefilter.filters import DateTimeRangeFilter

from ..conf import account_names
from ..models import Message


class AccountFilter(admin.SimpleListFilter):
    """The accounts configured in ``XUNCHEN['ACCOUNTS']``."""

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


#: (label, days back from today) of the quick ranges.
QUICK_RANGES = [(_("Today"), 0), (_("Last 7 days"), 6), (_("Last 30 days"), 29)]


class DateOptionalTimeField(forms.MultiValueField):
    """A date and an optional time; without a time, the start of the day or its end."""

    def __init__(self, *, end: bool, **kwargs: Any) -> None:
        self.end = end
        fields = (
            forms.DateField(localize=True, required=False),
            forms.TimeField(localize=True, required=False),
        )
        super().__init__(fields, require_all_fields=False, required=False, **kwargs)

    def compress(self, data_list: list[Any]) -> dt.datetime | None:
        if not data_list or not data_list[0]:
            if data_list and len(data_list) > 1 and data_list[1]:
                raise forms.ValidationError(_("Enter a date with the time."), code="invalid_date")
            return None
        day, time = data_list[0], data_list[1] if len(data_list) > 1 else None
        if time is None:
            time = dt.time.max if self.end else dt.time.min
        return dt.datetime.combine(day, time)


class DateTimeInputs(forms.MultiWidget):
    """A date field and a time field on one line, each with its calendar or clock."""

    template_name = "admin/django_xunchen/filters/date_time_inputs.html"

    def __init__(self, placeholder: Any) -> None:
        super().__init__(
            (
                AdminDateWidget(attrs={"placeholder": placeholder, "size": 10}),
                AdminTimeWidget(attrs={"placeholder": _("any time"), "size": 5}),
            )
        )

    def decompress(self, value: dt.datetime | None) -> list[Any]:
        return [value.date(), value.time()] if value else [None, None]


class DateRangeFilter(DateTimeRangeFilter):
    """``list_filter = [("created_at", DateRangeFilter)]`` on a DateTimeField."""

    template = "admin/django_xunchen/filters/date_range.html"

    def _get_form_fields(self) -> OrderedDict[str, forms.Field]:
        fields: OrderedDict[str, forms.Field] = OrderedDict()
        for key, end, placeholder in [
            (self.lookup_kwarg_gte, False, _("From date")),
            (self.lookup_kwarg_lte, True, _("To date")),
        ]:
            fields[key] = DateOptionalTimeField(
                end=end, label="", widget=DateTimeInputs(placeholder)
            )
        return fields

    def quick_ranges(self, changelist: Any) -> list[dict[str, Any]]:
        """The quick-range links, the chosen one marked."""
        today = timezone.localdate()
        current = {key: self.used_parameters.get(key) for key in self.expected_parameters()}
        links = []
        for label, days in QUICK_RANGES:
            params = {
                f"{self.lookup_kwarg_gte}_0": (today - dt.timedelta(days=days)).isoformat(),
                f"{self.lookup_kwarg_lte}_0": today.isoformat(),
            }
            chosen = all(
                current.get(key) in (value, [value]) for key, value in params.items()
            ) and not any(
                current.get(f"{k}_1") for k in (self.lookup_kwarg_gte, self.lookup_kwarg_lte)
            )
            links.append(
                {
                    "label": label,
                    "selected": chosen,
                    "query_string": changelist.get_query_string(
                        params, remove=self.expected_parameters()
                    ),
                }
            )
        return links

    def choices(self, changelist: Any):
        for choice in super().choices(changelist):
            choice["quick_ranges"] = self.quick_ranges(changelist)
            yield choice


def date_range(title: Any) -> type[DateRangeFilter]:
    """The filter titled ``title``: ``("created_at", date_range(_("created")))``."""
    return type(
        "DateRangeFilter",
        (DateRangeFilter,),
        {
            "__from_builder": True,
            "default_title": title,
            "default_start": None,
            "default_end": None,
        },
    )
