"""The poll-health and code-volume banners on the app's admin pages."""

from __future__ import annotations

from django import template
from django.db import DatabaseError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..operations.health import poll_health
from ..verification.codes import volume_today

register = template.Library()


@register.simple_tag
def xunchen_poll_banner():
    """A warning naming what is wrong with polling, or nothing when all is well."""
    try:
        health = poll_health()
    except DatabaseError:
        return ""
    problems = list(health.stale)
    if health.set_aside:
        url = reverse("admin:django_xunchen_polljournalentry_changelist")
        problems.append(
            format_html(
                '<a href="{}?state__exact=set_aside">{}</a>',
                url,
                ngettext(
                    "%(count)d poll journal entry could not be ingested and was set aside.",
                    "%(count)d poll journal entries could not be ingested and were set aside.",
                    health.set_aside,
                )
                % {"count": health.set_aside},
            )
        )
    if health.spooled:
        problems.append(
            ngettext(
                "%(count)d send outcome waits in the spool on this host.",
                "%(count)d send outcomes wait in the spool on this host.",
                health.spooled,
            )
            % {"count": health.spooled}
        )
    if health.spool_bad:
        problems.append(
            ngettext(
                "%(count)d spool file on this host could not be read or applied and was "
                "set aside (renamed *.bad); the log says why.",
                "%(count)d spool files on this host could not be read or applied and were "
                "set aside (renamed *.bad); the log says why.",
                health.spool_bad,
            )
            % {"count": health.spool_bad}
        )
    if health.spool_problem:
        problems.append(health.spool_problem)
    if not problems:
        return ""
    return format_html(
        '<div class="xunchen-poll-banner" role="alert"><strong>{}</strong> {}</div>',
        _("Polling needs attention."),
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
