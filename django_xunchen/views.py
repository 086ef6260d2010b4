"""Optional JSON views for verification codes: include ``django_xunchen.urls``.

Both are POST only and CSRF-protected, the code is a sensitive POST parameter (Django's
error reports hide it), and the answers say nothing about whether a number is known
anywhere: a host that does not want to reveal its users' numbers stays that way.
"""

from __future__ import annotations

import abc
import json

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from .conf import verification_settings
from .exceptions import XunchenValidationError
from .verification.codes import RequestStatus, check_code, client_ip, request_code


def _data(request: HttpRequest) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            loaded = json.loads(request.body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    return request.POST.dict()


class _CodeView(abc.ABC, View):
    """POST only; the purpose must be one of ``PURPOSES``; bad input answers 400. A
    subclass answers in :meth:`answer`."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> JsonResponse:
        data = _data(request)
        purpose = data.get("purpose") or "login"
        if purpose not in verification_settings()["PURPOSES"]:
            return JsonResponse({"status": "invalid", "error": "unknown purpose"}, status=400)
        try:
            return self.answer(request, data, purpose)
        except XunchenValidationError as exc:
            return JsonResponse({"status": "invalid", "error": str(exc)}, status=400)

    @abc.abstractmethod
    def answer(self, request: HttpRequest, data: dict[str, str], purpose: str) -> JsonResponse:
        """The JSON answer for valid input; may raise XunchenValidationError."""


@method_decorator(csrf_protect, name="dispatch")
class RequestCodeView(_CodeView):
    """``POST mobile, purpose`` → ``{"status": "sent", "retry_after": 60}`` (200), or
    ``throttled`` (429, with ``Retry-After``), or ``failed`` (503)."""

    def answer(self, request: HttpRequest, data: dict[str, str], purpose: str) -> JsonResponse:
        result = request_code(data.get("mobile", ""), purpose, ip=client_ip(request))
        status = {RequestStatus.SENT: 200, RequestStatus.THROTTLED: 429}.get(result.status, 503)
        response = JsonResponse(
            {"status": result.status.value, "retry_after": result.retry_after}, status=status
        )
        if result.status == RequestStatus.THROTTLED:
            response["Retry-After"] = str(result.retry_after)
        return response


@method_decorator([csrf_protect, sensitive_post_parameters("code")], name="dispatch")
class CheckCodeView(_CodeView):
    """``POST mobile, code, purpose`` → ``{"status": "verified"}`` (200), or the reason
    it failed (400) with ``attempts_left``. For flows where verifying the number is the
    goal (a profile's number); a login view checks the code itself (see the tutorial),
    since a verified code is used up."""

    def answer(self, request: HttpRequest, data: dict[str, str], purpose: str) -> JsonResponse:
        result = check_code(data.get("mobile", ""), data.get("code", ""), purpose)
        return JsonResponse(
            {"status": result.status.value, "attempts_left": result.attempts_left},
            status=200 if result.verified else 400,
        )
