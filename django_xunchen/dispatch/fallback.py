"""Fallback accounts: where a request goes when its account certainly did not send it."""

from __future__ import annotations

from ..conf import UnknownAccount, allowed_kinds, xunchen_settings
from ..models import Template


def fallbacks(
    account: str, kind: str, template: Template | None
) -> list[tuple[str, Template | None]]:
    """The accounts a request on ``account`` may go to instead, in order, each with the
    template to use there: each account's ``FALLBACK`` in turn, skipping any that may not
    send ``kind`` and, for a template message, any without an active template of the same
    vendor id and text."""
    found: list[tuple[str, Template | None]] = []
    seen = {account}
    name = xunchen_settings(account)["FALLBACK"]
    while name and name not in seen:
        seen.add(name)
        try:
            eligible = kind in allowed_kinds(name)
        except UnknownAccount:
            break
        there = template
        if eligible and template is not None:
            there = Template.objects.filter(
                account=name, template_id=template.template_id, body=template.body, is_active=True
            ).first()
            eligible = there is not None
        if eligible:
            found.append((name, there))
        name = xunchen_settings(name)["FALLBACK"]
    return found
