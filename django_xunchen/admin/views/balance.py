"""The balance page: each account's balance, asked of the gateway, and nothing written."""

from __future__ import annotations

from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ...api import get_balances
from ...conf import account_names
from .context import page_context


def balance_rows() -> list[dict]:
    """One row per account: its balance, or why it could not be read."""
    rows = []
    for name, found in get_balances().items():
        if isinstance(found, Exception):
            rows.append({"account": name, "balance": None, "error": str(found)})
        else:
            rows.append({"account": name, "balance": found, "error": None})
    return rows


def balance_view(model_admin, request):
    model_admin.require(request, "check_balance")
    context = page_context(
        model_admin,
        request,
        _("Gateway balance"),
        balances=balance_rows(),
        several=len(account_names()) > 1,
    )
    return TemplateResponse(request, "admin/django_xunchen/message/balance.html", context)
