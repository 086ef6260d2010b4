"""Optional JSON views for verification codes: include ``django_xunchen.urls``.

Both are POST only and CSRF-protected, the code is a sensitive POST parameter (Django's
error reports hide it), and the answers say nothing about whether a number is known
anywhere: a host that does not want to reveal its users' numbers stays that way.

They never answer 500 to bad input. A body is a form or a flat JSON object of strings,
of at most :data:`MAX_BODY` bytes: its size is checked before it is read and its
nesting before it is parsed, so that no body can exhaust memory or the parser's
recursion. Anything else is a 400 (413 when too large) that writes nothing.
"""

from __future__ import annotations

import abc
import json
import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from .client.secret import Secret
from .conf import verification_settings
from .exceptions import XunchenValidationError
from .verification.codes import RequestStatus, check_code, client_ip, request_code

#: The largest body the views read, in bytes: a number, a code, a purpose and a CSRF
#: token come to a few hundred.
MAX_BODY = 4096
#: The longest value of a field, in characters.
MAX_VALUE = 128
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
#: The fields whose values are secrets: a Secret from the moment they are read.
SECRET_FIELDS = ("code",)
_CONTROLS_ALLOWED = "\t\n\r"


def _too_large() -> str:
    return _("the body is over %(limit)d bytes") % {"limit": MAX_BODY}


class _BadInput(Exception):
    """A body the views refuse, with the status they answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _invalid(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"status": "invalid", "error": message}, status=status)


def _declared_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except (TypeError, ValueError):
        raise _BadInput(_("the Content-Length header is not a number")) from None
    if length < 0:
        raise _BadInput(_("the Content-Length header is not a number"))
    if length > MAX_BODY:
        raise _BadInput(_too_large(), status=413)
    return length


def _limit_body(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a body whose declared size is over :data:`MAX_BODY` before anything reads
    it: outside ``csrf_protect``, which reads a form body to find its token."""

    @wraps(view)
    def bounded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            _declared_length(request)
        except _BadInput as exc:
            return _invalid(str(exc), exc.status)
        return view(request, *args, **kwargs)

    return bounded


@sensitive_variables("body", "text", "loaded", "data", "value")
def _read_body(request: HttpRequest) -> dict[str, str]:
    """The fields of a code view's body, checked: a form, or a flat JSON object whose
    values are strings; no field twice, no file, no value over :data:`MAX_VALUE`
    characters or with control characters, and valid UTF-8. Raises :class:`_BadInput`."""
    _declared_length(request)
    if request.content_type == "application/json":
        data = _json_fields(request)
    elif request.content_type in FORMS:
        data = _form_fields(request)
    else:
        raise _BadInput(_("send the fields as a form or as a JSON object"))
    for key, value in data.items():
        if len(value) > MAX_VALUE:
            raise _BadInput(_("a field is over %(limit)d characters") % {"limit": MAX_VALUE})
        if any(_refused(char) for char in value):
            raise _BadInput(_("a field has control characters or is not valid UTF-8"))
        if key in SECRET_FIELDS:
            data[key] = Secret(value)
    return data


def _refused(char: str) -> bool:
    if char == "\ufffd":  # what a form's invalid UTF-8 decodes to
        return True
    category = unicodedata.category(char)
    return (category == "Cc" and char not in _CONTROLS_ALLOWED) or category == "Cs"


@sensitive_variables("body", "text", "loaded")
def _json_fields(request: HttpRequest) -> dict[str, str]:
    try:
        body = request.body
    except SuspiciousOperation:  # RequestDataTooBig, without a Content-Length
        raise _BadInput(_too_large(), status=413) from None
    except (UnreadablePostError, RawPostDataException):
        raise _BadInput(_("the body cannot be read")) from None
    if len(body) > MAX_BODY:
        raise _BadInput(_too_large(), status=413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _BadInput(_("the body is not valid UTF-8")) from None
    if not text.strip():
        return {}
    if _nesting(text) > 1:
        raise _BadInput(_("the body must be a flat JSON object of strings"))
    try:
        loaded = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except (ValueError, RecursionError):
        raise _BadInput(_("the body is not JSON")) from None
    if not isinstance(loaded, dict):
        raise _BadInput(_("the body must be a JSON object"))
    if not all(isinstance(value, str) for value in loaded.values()):
        raise _BadInput(_("every value must be a string (a code keeps its leading zeros)"))
    return loaded


def _nesting(text: str) -> int:
    """How deep ``text`` nests arrays and objects (outside strings), counted up to 2
    only: the parser never sees a body nested deeper than a flat object."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > 1:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _BadInput(_("a field is given more than once"))
    return dict(pairs)


@sensitive_variables("post", "values", "data")
def _form_fields(request: HttpRequest) -> dict[str, str]:
    try:
        post, files = request.POST, request.FILES
    except SuspiciousOperation:  # too large, too many fields or files
        raise _BadInput(_("the form is too large")) from None
    except (MultiPartParserError, BadRequest, UnreadablePostError, RawPostDataException):
        raise _BadInput(_("the form cannot be read")) from None
    if files:
        raise _BadInput(_("a code view takes no file"))
    data = {}
    for key, values in post.lists():
        if len(values) != 1:
            raise _BadInput(_("a field is given more than once"))
        data[key] = values[0]
    return data


class _CodeView(abc.ABC, View):
    """POST only; the purpose must be one of ``PURPOSES``; bad input answers 400 (413
    for a body over :data:`MAX_BODY` bytes) and writes nothing. A subclass answers in
    :meth:`answer`."""

    http_method_names = ["post"]

    @sensitive_variables("data")
    def post(self, request: HttpRequest) -> JsonResponse:
        try:
            data = _read_body(request)
        except _BadInput as exc:
            return _invalid(str(exc), exc.status)
        purpose = data.get("purpose") or "login"
        if purpose not in verification_settings()["PURPOSES"]:
            return _invalid(_("unknown purpose"))
        try:
            return self.answer(request, data, purpose)
        except XunchenValidationError as exc:
            return _invalid(str(exc))

    @abc.abstractmethod
    def answer(self, request: HttpRequest, data: dict[str, str], purpose: str) -> JsonResponse:
        """The JSON answer for valid input; may raise XunchenValidationError."""


@method_decorator([_limit_body, csrf_protect], name="dispatch")
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


@method_decorator(
    [_limit_body, csrf_protect, sensitive_post_parameters(*SECRET_FIELDS)], name="dispatch"
)
class CheckCodeView(_CodeView):
    """``POST mobile, code, purpose`` → ``{"status": "verified"}`` (200), or the reason
    it failed (400) with ``attempts_left``. For flows where verifying the number is the
    goal (a profile's number); a login view checks the code itself (see the tutorial),
    since a verified code is used up."""

    @sensitive_variables("data")
    def answer(self, request: HttpRequest, data: dict[str, str], purpose: str) -> JsonResponse:
        result = check_code(data.get("mobile", ""), data.get("code", ""), purpose)
        return JsonResponse(
            {"status": result.status.value, "attempts_left": result.attempts_left},
            status=200 if result.verified else 400,
        )
