"""The analytics page: delivery by carrier and province, failure codes, report latency and
spend, for a range of days and filters read from the query string; ``?export=csv``
downloads its tables. It reads the rollup and writes nothing
(:mod:`django_xunchen.analytics.report`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ...analytics import charts, figures, latency, report
from ...conf import account_names
from ...exports import export_response
from ...models import Message, Template
from ...operations import rollup
from .context import page_context

#: Days shown when the range is not given.
DEFAULT_DAYS = 30


class AnalyticsFilter(forms.Form):
    """The page's filters; every one optional, every one checked."""

    start = forms.DateField(label=_("From"), required=False)
    end = forms.DateField(label=_("To"), required=False)
    account = forms.ChoiceField(label=_("Account"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    template = forms.IntegerField(label=_("Template"), required=False, min_value=1)
    campaign = forms.IntegerField(label=_("Campaign"), required=False, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", _("All accounts"))] + [
            (name, name) for name in account_names()
        ]
        self.fields["kind"].choices = [("", _("All kinds")), *Message.Kind.choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        today = rollup.today()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise forms.ValidationError(_("The first day is after the last."))
        if (end - start).days + 1 > report.MAX_DAYS:
            raise forms.ValidationError(
                _("Choose at most %(days)d days.") % {"days": report.MAX_DAYS}
            )
        data["start"], data["end"] = start, end
        return data

    def query(self) -> report.Query:
        data = self.cleaned_data
        return report.Query(
            data["start"],
            data["end"],
            figures.Filters(
                account=data.get("account") or "",
                kind=data.get("kind") or "",
                template_id=data.get("template"),
                campaign_id=data.get("campaign"),
            ),
        )


def analytics_view(model_admin, request):
    model_admin.require(request, "dashboard")
    form = AnalyticsFilter(request.GET or None)
    if request.GET and not form.is_valid():
        found = None
    else:
        if not request.GET:
            form = AnalyticsFilter({})
            form.is_valid()
        found = report.build(form.query())
        if request.GET.get("export") == "csv":
            return _csv(found)
    context = page_context(
        model_admin,
        request,
        _("Analytics"),
        form=form,
        found=found,
        templates=Template.objects.order_by("name").values_list("pk", "name"),
        several_accounts=len(account_names()) > 1,
    )
    if found is not None:
        context |= {
            "carrier_chart": charts.rates(found.carriers, gettext("Delivery by carrier")),
            "province_chart": charts.rates(found.provinces, gettext("Delivery by province")),
            "latency_chart": charts.latencies(found.days),
            "percentiles": _percentiles(found.total),
            "export_query": _with_export(request),
        }
    return TemplateResponse(request, "admin/django_xunchen/message/analytics.html", context)


def _percentiles(row: report.Row) -> list[tuple[str, str]]:
    return [
        (name, latency.label(row.percentile(fraction)))
        for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
    ]


def _with_export(request) -> str:
    query = request.GET.copy()
    query["export"] = "csv"
    return query.urlencode()


def _csv(found: report.Analytics):
    header = [
        gettext("Table"),
        gettext("Key"),
        gettext("Messages"),
        gettext("Delivered"),
        gettext("With an outcome"),
        gettext("Delivery rate"),
        "p50 (s)",
        "p90 (s)",
        "p99 (s)",
        gettext("Billed parts"),
        gettext("Cost"),
    ]
    tables = [
        (gettext("All"), [found.total]),
        (gettext("Carrier (by allocation)"), found.carriers),
        (gettext("Province (by allocation)"), found.provinces),
        (gettext("Day"), found.days),
        (gettext("Account"), found.by_account),
        (gettext("Kind"), found.by_kind),
        (gettext("Campaign"), found.by_campaign),
        (gettext("Month"), found.by_month),
    ]
    rows = [
        [
            table,
            row.label,
            row.messages,
            row.delivered,
            row.settled,
            "" if row.rate is None else f"{row.rate:.4f}",
            *(row.percentile(f) or "" for f in (0.5, 0.9, 0.99)),
            row.billed_parts,
            "" if row.cost is None else row.cost,
        ]
        for table, table_rows in tables
        for row in table_rows
    ]
    rows += [
        [gettext("Failure code"), f["code"], f["messages"], "", "", "", "", "", "", "", ""]
        for f in found.failures
    ]
    name = f"sms-analytics-{found.query.first.isoformat()}-{found.query.last.isoformat()}"
    return export_response("csv", name, header, rows)
