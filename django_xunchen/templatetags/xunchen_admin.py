"""The health and code-volume banners on the app's admin pages."""

from __future__ import annotations

from django import template
from django.db import DatabaseError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from ..operations.monitoring import Level, run_checks
from ..verification.codes import volume_today

register = template.Library()


@register.simple_tag
def xunchen_poll_banner():
    """A warning naming every health check that is not ok (the checks ``sms_health`` and
    the health view report: :func:`~django_xunchen.operations.monitoring.run_checks`), or
    nothing when all is well."""
    try:
        checks = [c for c in run_checks() if c.level > Level.OK]
    except DatabaseError:
        return ""
    links = {
        "journal_set_aside": reverse("admin:django_xunchen_polljournalentry_changelist")
        + "?state__exact=set_aside",
        "balance": reverse("admin:django_xunchen_message_balance"),
    }
    problems = [
        format_html('<a href="{}">{}</a>', links[c.name], c.detail) if c.name in links else c.detail
        for c in checks
    ]
    if not problems:
        return ""
    return format_html(
        '<div class="xunchen-poll-banner" role="alert"><strong>{}</strong> {}</div>',
        _("SMS needs attention."),
        format_html_join(" ", "{}", ((p,) for p in problems)),
    )


@register.simple_tag
def xunchen_code_banner():
    """A warning when today's verification-code volume reached ``DAILY_ALARM``."""
    try:
        volume, threshold = volume_today()
    except DatabaseError:
        return ""
    if volume < threshold:
        return ""
    url = reverse("admin:django_xunchen_throttleevent_changelist")
    return format_html(
        '<div class="xunchen-poll-banner xunchen-code-banner" role="alert"><strong>{}</strong> '
        '{} <a href="{}">{}</a></div>',
        _("Verification code volume alarm."),
        _(
            "%(volume)d code SMS were sent today, at or above the alarm level of "
            "%(threshold)d: someone may be pumping SMS through the site."
        )
        % {"volume": volume, "threshold": threshold},
        url,
        _("See the throttle events"),
    )
