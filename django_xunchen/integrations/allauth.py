"""django-allauth's phone sign-up and login, by SMS through the app
(docs/integrations/allauth.rst).

allauth makes each code, keeps it in the session and checks it itself; the adapter only
sends it, with :func:`~django_xunchen.verification.request_code`, so that every code SMS
passes the app's throttles (per number, IP, prefix and day) and is stored masked, with a
keyed hash of the code and never the code itself. Where the phone number is stored
stays the site's: a subclass implements ``set_phone``, ``get_phone``,
``set_phone_verified`` and ``get_user_by_phone`` (the page shows two ways).

Compatible with django-allauth 65.5 (its first release with phone numbers) and later.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.ratelimit import respond_429
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_variables

from ..client.validation import normalize_mobile
from ..verification import CodeRequest, RequestStatus, client_ip, request_code, send_notice
from ..verification.throttles import seconds_until_next_code

try:
    from allauth.core.exceptions import RateLimited as _RateLimited
except ImportError:  # allauth releases before RateLimited (65.5 among them)
    _RateLimited = Exception  # type: ignore[assignment,misc]

__all__ = ["CodeThrottled", "XunchenAccountAdapter", "XunchenPhoneAdapterMixin"]

logger = logging.getLogger("django_xunchen.integrations.allauth")

#: The views that ask for a login code, whose SMS is a login code even on allauth
#: releases that do not say so (65.5 passes no ``reauthentication`` argument).
LOGIN_CODE_VIEWS = frozenset({"account_request_login_code", "account_confirm_login_code"})

_SEPARATORS = re.compile(r"[\s-]")


class CodeThrottled(ImmediateHttpResponse, _RateLimited):
    """The app's throttles refused a code: nothing was sent.

    It is both of allauth's ways of refusing for a rate limit. As ``RateLimited``
    (allauth releases that have it), the views that resend a code catch it and show
    allauth's "too many requests" message on the code's page, and the headless API
    answers 429. Anywhere else it is an ``ImmediateHttpResponse``, which allauth's
    ``AccountMiddleware`` turns into ``response``: allauth's 429 page
    (``respond_429``, the ``429.html`` template or ``handler429``), with ``Retry-After``.
    """

    def __init__(self, response: HttpResponse, retry_after: int = 0) -> None:
        super().__init__(response)
        self.retry_after = retry_after


class XunchenPhoneAdapterMixin:
    """The SMS half of allauth's phone support, for an account adapter.

    Put it before ``DefaultAccountAdapter`` (or the site's own adapter base) and add the
    storage methods. ``xunchen_account`` names the gateway account for the codes and
    the notices (default: the one ``ROUTES`` gives kind ``verification``).
    """

    xunchen_account: str | None = None

    request: HttpRequest | None

    # ------------------------------------------------------------------ codes

    @sensitive_variables("code", "plain")
    def send_verification_code_sms(self, user: Any, phone: str, code: str, **kwargs: Any) -> None:
        """Send allauth's ``code`` through the app's throttles.

        A refusal by a throttle raises :class:`CodeThrottled` (allauth's rate-limit
        answer, never a 500). A gateway that refused the SMS, after the account's
        fallback, is logged and told to the user in a message; allauth's flow goes on,
        and the user can ask again once the number's cooldown has run.
        """
        request = self._xunchen_request()
        purpose, ttl = self._xunchen_flow(kwargs)
        plain = _SEPARATORS.sub("", code)
        result = request_code(
            phone,
            purpose,
            ip=client_ip(request) if request is not None else None,
            account=self.xunchen_account,
            code=plain,
            ttl=ttl,
        )
        if result.status == RequestStatus.THROTTLED:
            raise CodeThrottled(
                self.xunchen_throttled_response(request, result), result.retry_after
            )
        if result.status == RequestStatus.FAILED:
            logger.error(
                "allauth %s code for %s not sent: %s", purpose, phone, result.error or "failed"
            )
            if request is not None:
                messages.add_message(
                    request,
                    messages.ERROR,
                    gettext("The code could not be sent. Try again later."),
                    fail_silently=True,
                )

    def generate_phone_verification_code(
        self, *, user: Any = None, phone: str | None = None
    ) -> str:
        """allauth's code, unless the number's own limits (``COOLDOWN``, ``PER_HOUR``,
        ``PER_DAY``) would refuse its SMS: then :class:`CodeThrottled` before allauth
        replaces the code the user already has with one that would never be sent
        (allauth makes the new code before it asks for the SMS). allauth releases that
        do not pass ``phone`` (65.5) leave the check to the send."""
        number = normalize_mobile(phone) if phone is not None else None
        wait = seconds_until_next_code(number) if number is not None else 0
        if wait > 0:
            request = self._xunchen_request()
            refusal = CodeRequest(RequestStatus.THROTTLED, wait, "cooldown")
            raise CodeThrottled(self.xunchen_throttled_response(request, refusal), wait)
        base = super().generate_phone_verification_code  # type: ignore[misc]
        if not inspect.signature(base).parameters:  # allauth 65.5
            return base()
        return base(user=user, phone=phone)

    def xunchen_throttled_response(
        self, request: HttpRequest | None, result: CodeRequest
    ) -> HttpResponse:
        """What a throttled request answers: allauth's own 429 response, with
        ``Retry-After``. allauth 65.5 renders ``429.html`` and has no page of its own
        when the site has none: a short text then, the app's own. Override to answer otherwise."""
        response = None
        if request is not None:
            with contextlib.suppress(TemplateDoesNotExist):
                response = respond_429(request)
        if response is None:
            seconds = max(1, result.retry_after)
            response = HttpResponse(
                gettext("Too many codes asked for. Try again in %(seconds)d seconds.")
                % {"seconds": seconds},
                status=429,
                content_type="text/plain; charset=utf-8",
            )
        if result.retry_after:
            response["Retry-After"] = str(result.retry_after)
        return response

    def _xunchen_flow(self, kwargs: dict[str, Any]) -> tuple[str, int]:
        """The purpose the code is logged under and its lifetime in seconds: a login
        code (``LOGIN_BY_CODE_TIMEOUT``), a code to sign in again, or one that verifies
        a number at sign-up or on a change (``PHONE_VERIFICATION_TIMEOUT``)."""
        request = self._xunchen_request()
        match = getattr(request, "resolver_match", None)
        if "reauthentication" in kwargs or getattr(match, "url_name", None) in LOGIN_CODE_VIEWS:
            purpose = "allauth.reauth" if kwargs.get("reauthentication") else "allauth.login"
            return purpose, int(allauth_settings.LOGIN_BY_CODE_TIMEOUT)
        return "allauth.verify", int(allauth_settings.PHONE_VERIFICATION_TIMEOUT)

    def _xunchen_request(self) -> HttpRequest | None:
        return getattr(self, "request", None)

    # ------------------------------------------------------------------ notices

    def send_unknown_account_sms(self, phone: str, **kwargs: Any) -> None:
        """A login code was asked for a number no account has (allauth sends this
        instead of a code when ``ACCOUNT_PREVENT_ENUMERATION`` is on)."""
        self._xunchen_notice(
            phone,
            gettext(
                "Someone asked for a sign-in code for this number, but no account uses it. "
                "If it was not you, ignore this message."
            ),
        )

    def send_account_already_exists_sms(self, phone: str, **kwargs: Any) -> None:
        """Someone signed up with a number that already has an account (newer allauth
        releases call it; 65.5 does not)."""
        self._xunchen_notice(
            phone,
            gettext(
                "Someone tried to sign up with this number, which already has an account. "
                "Sign in instead; if it was not you, ignore this message."
            ),
        )

    def _xunchen_notice(self, phone: str, text: str) -> None:
        """Send a notice in place of a code, through the same throttles as the codes
        (:func:`~django_xunchen.verification.send_notice`): a request for a number
        without an account is answered as one for a number with one, a refusal with
        the same 429, so the answers do not tell which numbers have accounts. A notice
        the gateway refuses is logged, never raised."""
        if normalize_mobile(phone) is None:
            return
        request = self._xunchen_request()
        purpose, _ttl = self._xunchen_flow({})
        result = send_notice(
            phone,
            text,
            purpose,
            ip=client_ip(request) if request is not None else None,
            account=self.xunchen_account,
        )
        if result.status == RequestStatus.THROTTLED:
            raise CodeThrottled(
                self.xunchen_throttled_response(request, result), result.retry_after
            )
        if result.status == RequestStatus.FAILED:
            logger.warning("allauth notice for %s not sent: %s", phone, result.error or "failed")

    # ------------------------------------------------------------------ the number

    def phone_form_field(self, **kwargs: Any) -> Any:
        """allauth's phone field without its E.164 check, which would refuse the number
        as people in China write it (``138 0013 8000``): :meth:`clean_phone` checks."""
        kwargs.setdefault("validators", [])
        return super().phone_form_field(**kwargs)  # type: ignore[misc]

    def clean_phone(self, phone: str) -> str:
        """The mainland 11-digit form of ``phone`` (``+86``, spaces, dashes and
        full-width digits accepted); anything else is refused: the gateway delivers to
        mainland China mobile numbers only."""
        number = normalize_mobile(phone)
        if number is None:
            raise ValidationError(
                gettext_lazy("Enter a mainland China mobile number."), code="invalid_phone"
            )
        return super().clean_phone(number)  # type: ignore[misc]


class XunchenAccountAdapter(XunchenPhoneAdapterMixin, DefaultAccountAdapter):
    """allauth's default adapter sending its codes through the app. Subclass it and add
    the four storage methods (``set_phone``, ``get_phone``, ``set_phone_verified``,
    ``get_user_by_phone``): allauth's phone support needs all of them."""
