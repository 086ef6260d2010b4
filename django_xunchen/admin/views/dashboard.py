"""The delivery dashboard page: its filters read from the query string, its figures from
:mod:`django_xunchen.admin.dashboard`.

It writes nothing itself; reading the figures may roll up days no poll has rolled up
yet (:func:`django_xunchen.operations.rollup.figures`).
"""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ...conf import account_names
from ...models import Message
from .. import dashboard
from .context import page_context


def dashboard_view(model_admin, request):
    model_admin.require(request, "dashboard")
    names = account_names()
    account = request.GET.get("account") or None
    kind = request.GET.get("kind") or None
    account = account if account in names else None
    kind = kind if kind in Message.Kind.values else None
    context = page_context(
        model_admin,
        request,
        _("Delivery dashboard"),
        accounts=names if len(names) > 1 else [],
        kinds=Message.Kind.choices,
        chosen_account=account,
        chosen_kind=kind,
        **dashboard.build(
            can_check_balance=model_admin.has_check_balance_permission(request),
            account=account,
            kind=kind,
        ),
    )
    return TemplateResponse(request, "admin/django_xunchen/message/dashboard.html", context)
