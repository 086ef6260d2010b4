"""The trail of staff actions: what the app's own admin pages and actions did (a send, a
resend, a campaign's confirm, pause, resume and cancel, an import, an export, a throttle
lift, a person's export or erasure), one entry in Django's admin log (``LogEntry``) per
action, with how many rows it touched and its batch or campaign. Django already logs the
admin's own adds, changes and deletions; :mod:`django_xunchen.admin.audit` shows the log.

An entry's ``object_repr`` starts with the action's name (``resend: 3 messages``), so
that the log can be filtered by action; a number is never written in it (an erasure is
named by its digest)."""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

#: The actions recorded, by name.
ACTIONS = {
    "send": _("send"),
    "resend": _("resend"),
    "confirm": _("campaign confirmed"),
    "pause": _("campaign paused"),
    "resume": _("campaign resumed"),
    "cancel": _("campaign cancelled"),
    "import": _("import"),
    "export": _("export"),
    "lift": _("throttle lift"),
    "person_export": _("person's data exported"),
    "erase": _("person's data erased"),
}


def audit(
    request: HttpRequest,
    action: str,
    model: type[models.Model],
    count: int,
    *,
    obj: models.Model | None = None,
    detail: str = "",
) -> LogEntry | None:
    """Record that the request's user did ``action`` to ``count`` rows of ``model``
    (``obj``: the campaign or batch row it was about; ``detail``: what else names it,
    such as a batch, a file or a format)."""
    user = getattr(request, "user", None)
    if action not in ACTIONS:
        raise ValueError(f"unknown audited action {action!r}")
    if user is None or user.pk is None:
        return None
    what = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    text = f"{action}: {count} {what}"
    if obj is not None:
        text += f", {obj._meta.verbose_name} #{obj.pk}"
    if detail:
        text += f", {detail}"
    return LogEntry.objects.create(
        user_id=user.pk,
        content_type=ContentType.objects.get_for_model(model, for_concrete_model=False),
        object_id=str(obj.pk) if obj is not None else None,
        object_repr=text[:200],
        action_flag=CHANGE,
        change_message=text,
    )
