"""Who may do what in the SMS admin: one place for every custom permission check.

``has_<name>_permission`` is what Django's admin actions call for ``permissions=[name]``;
the views call :meth:`SMSPermissionsMixin.require`.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

#: What each door needs, as ``app_label.codename``.
PERMISSIONS = {
    "send": "django_xunchen.send_sms",
    "resend": "django_xunchen.resend_message",
    "check_balance": "django_xunchen.check_balance",
    "dashboard": "django_xunchen.view_dashboard",
    "retry": "django_xunchen.change_polljournalentry",
    "lift": "django_xunchen.change_throttleevent",
    "export_person": "django_xunchen.export_person",
    "erase_person": "django_xunchen.erase_person",
    "export_log": "django_xunchen.export_message",
}


def allowed(request: HttpRequest, door: str) -> bool:
    return request.user.has_perm(PERMISSIONS[door])


class SMSPermissionsMixin:
    def require(self, request: HttpRequest, door: str) -> None:
        """Raise :class:`PermissionDenied` (403) unless the user may use ``door``."""
        if not allowed(request, door):
            raise PermissionDenied

    def has_send_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "send")

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "resend")

    def has_check_balance_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "check_balance")

    def has_dashboard_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "dashboard")

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "retry")

    def has_lift_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "lift")

    def has_export_person_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "export_person")

    def has_erase_person_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "erase_person")

    def has_export_log_permission(self, request: HttpRequest) -> bool:
        return allowed(request, "export_log")
