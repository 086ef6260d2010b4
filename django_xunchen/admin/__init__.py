"""The admin: send, watch, resend, check the balance, see the delivery rate.

Built to stay fast at millions of rows: no date hierarchy, no full result count,
``list_select_related`` everywhere, raw-id or autocomplete widgets for every foreign key.

One module per admin (:mod:`.messages`, :mod:`.message_templates`, :mod:`.polled`,
:mod:`.journal`, :mod:`.verification`, :mod:`.throttles`, :mod:`.campaigns`,
:mod:`.policy`), the message admin's own pages in :mod:`.views`, the list filters in
:mod:`.filters`, who may do what in :mod:`.permissions`. No admin writes a row itself:
each write is a call to the service function of its concern. This module imports the
modules that register their admins, and keeps every name importable from
``django_xunchen.admin`` that was before the split.
"""

from __future__ import annotations

from . import (  # noqa: F401 - each registers its admins
    api_keys,
    audit,
    campaigns,
    consent,
    dashboard,
    journal,
    message_templates,
    messages,
    people,
    policy,
    polled,
    throttles,
    verification,
    webhooks,
)
from .campaigns import CampaignAdmin
from .display import (
    ADMIN_MEDIA,
    STATUS_COLOURS,
    AccountColumnMixin,
    ReadOnlyAdminMixin,
    message_link,
    status_badge,
    when,
)
from .filters import AccountFilter, MatchedFilter, ReportOverdueFilter, TagFilter
from .inlines import ReadOnlyInline, ReplyInline, ReportInline, ResendInline
from .journal import JOURNAL_COLOURS, PollJournalEntryAdmin
from .message_templates import TemplateAdmin
from .messages import MessageAdmin
from .policy import BlockedWordAdmin, SuppressionAdmin
from .polled import InboundMessageAdmin, PolledRecordAdmin, ReportAdmin
from .throttles import ThrottleEventAdmin
from .verification import CODE_COLOURS, VerificationCodeAdmin
from .views.balance import balance_rows

__all__ = [
    "ADMIN_MEDIA",
    "CODE_COLOURS",
    "JOURNAL_COLOURS",
    "STATUS_COLOURS",
    "AccountColumnMixin",
    "AccountFilter",
    "BlockedWordAdmin",
    "CampaignAdmin",
    "InboundMessageAdmin",
    "MatchedFilter",
    "MessageAdmin",
    "PollJournalEntryAdmin",
    "PolledRecordAdmin",
    "ReadOnlyAdminMixin",
    "ReadOnlyInline",
    "ReplyInline",
    "ReportAdmin",
    "ReportInline",
    "ReportOverdueFilter",
    "ResendInline",
    "SuppressionAdmin",
    "TagFilter",
    "TemplateAdmin",
    "ThrottleEventAdmin",
    "VerificationCodeAdmin",
    "balance_rows",
    "message_link",
    "status_badge",
    "when",
]
