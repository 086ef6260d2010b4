"""The opt-out footer marketing messages must carry."""

from __future__ import annotations

import re

from ..conf import xunchen_settings
from ..exceptions import MissingOptOutFooterError
from ..models import Template

#: Text that already tells people how to refuse more messages.
FOOTER = re.compile(r"退订|拒收|回\s*[TtRrNn]\b|STOP", re.IGNORECASE)


def with_footer(text: str, account: str) -> str:
    """``text`` with the account's opt-out footer appended, unless it has one."""
    footer = xunchen_settings(account)["MARKETING_FOOTER"]
    if not footer or FOOTER.search(text):
        return text
    return text + footer


def check_template_footer(template: Template) -> None:
    if not FOOTER.search(template.body):
        raise MissingOptOutFooterError(
            f"template {template.template_id} has no opt-out footer (such as 回T退订); a "
            "marketing template must have one, and a registered template cannot be changed"
        )
