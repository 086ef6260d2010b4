"""Every error of the HTTP API in one JSON shape, with a stable code per class:

.. code-block:: json

    {"error": {"code": "invalid_mobile", "message": "…", "details": {…}}}

The app's exceptions are mapped here, once (:data:`CODES`); an exception the map does not
know is a 500 with the code ``internal``, its text never shown.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse

from .. import exceptions as ex
from ..conf import UnknownAccount

#: Exception class → (HTTP status, code). The first class an exception is an instance
#: of wins: subclasses before their bases.
CODES: list[tuple[type[BaseException], int, str]] = [
    (ex.InvalidMobileError, 422, "invalid_mobile"),
    (ex.LearnedBlockedWordsError, 422, "blocked_words"),
    (ex.MissingOptOutFooterError, 422, "opt_out_footer_missing"),
    (ex.InvalidSendTimeError, 422, "invalid_send_time"),
    (ex.InvalidKindError, 422, "invalid_kind"),
    (ex.InvalidAccountChoiceError, 422, "invalid_account"),
    (ex.InvalidTemplateParamsError, 422, "invalid_params"),
    (ex.InvalidContentError, 422, "invalid_content"),
    (ex.XunchenValidationError, 422, "invalid"),
    (ex.BalanceTooLowError, 409, "balance_too_low"),
    (ex.MonthlyCapError, 409, "monthly_cap"),
    (UnknownAccount, 422, "unknown_account"),
    (ex.GatewayError, 502, "gateway_error"),
    (ex.TransportError, 503, "gateway_unreachable"),
    (ex.XunchenError, 500, "sms_error"),
    (ImproperlyConfigured, 500, "not_configured"),
]


class ApiError(Exception):
    """An answer other than success, as the API gives it."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self) -> JsonResponse:
        answer = JsonResponse(
            self.body(), status=self.status, json_dumps_params={"ensure_ascii": False}
        )
        for name, value in self.headers.items():
            answer[name] = value
        return answer


def from_exception(exc: BaseException) -> ApiError:
    """The API's error for one of the app's exceptions."""
    for cls, status, code in CODES:
        if isinstance(exc, cls):
            if status >= 500 and code in ("sms_error", "not_configured"):
                return ApiError(status, code, "the SMS service could not do this; see its log")
            details = {}
            invalid = getattr(exc, "invalid", None)
            if invalid:
                details["invalid"] = list(invalid)
            words = getattr(exc, "words", None)
            if words:
                details["words"] = list(words)
            return ApiError(status, code, str(exc), details)
    return ApiError(500, "internal", "an unexpected error; see the server's log")
