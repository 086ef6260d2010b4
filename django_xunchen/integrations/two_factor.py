"""django-two-factor-auth's SMS method through the app (docs/integrations/two-factor.rst).

In the settings::

    TWO_FACTOR_SMS_GATEWAY = "django_xunchen.integrations.two_factor.XunchenGateway"
    MIDDLEWARE += ["django_xunchen.integrations.two_factor.RequestMiddleware"]  # advised

two-factor makes the token (a TOTP of the device's key) and checks it; the gateway only
carries it, through :func:`~django_xunchen.verification.request_code`: the app's
throttles, its ``verification`` account, the masked Message row and a keyed hash of the
token, never the token itself.

two-factor calls the gateway with the device and the token only, never the request. The
optional :class:`RequestMiddleware` keeps the request being served where the gateway can
read it (a context variable, reset when the response is made), so that the per-IP
throttle counts the client and the user is told, through :mod:`django.contrib.messages`,
why no SMS came. Without it, codes are throttled per number and prefix only.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_variables

from ..exceptions import InvalidMobileError, XunchenError
from ..verification import RequestStatus, client_ip, request_code

logger = logging.getLogger("django_xunchen.integrations.two_factor")

#: The purpose of the codes this gateway sends (the throttles and the code log show it).
PURPOSE = "two_factor"

#: Seconds a token stays valid: two-factor's ``PhoneDevice`` accepts the TOTP of the
#: current 30-second step and of the five before it, so a token sent at the end of its
#: step is still accepted 150 seconds later (at most 180). The SMS's ``{minutes}`` says 2.
TOKEN_TTL = 5 * 30

#: Told to the user when the gateway failed to send (with RequestMiddleware).
_FAILED = gettext_lazy(
    "The text message could not be sent. Please try again later or choose another method."
)

_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "django_xunchen_two_factor_request", default=None
)


class UnsupportedNumberError(InvalidMobileError):
    """The device's number is not one the app can send to (it sends to mainland China
    mobile numbers, +86, only). Raised while a number is being set up, so that two-factor's
    setup wizard says the challenge failed instead of waiting for an SMS that never comes.
    Its message is for the user; it names neither the number nor the token."""

    user_message = gettext_lazy(
        "Text messages can only be sent to mainland China mobile numbers (+86). "
        "Please enter such a number or choose another method."
    )

    def __init__(self, invalid: list[str] | None = None) -> None:
        super().__init__(str(self.user_message), invalid or [])


def current_request() -> HttpRequest | None:
    """The request :class:`RequestMiddleware` is serving in this thread or task, if any."""
    return _request.get()


class RequestMiddleware:
    """Lets :class:`XunchenGateway` see the request two-factor does not pass it.

    It keeps the request in a context variable for as long as the view runs, and turns
    an :class:`UnsupportedNumberError` that reached it (two-factor's backup-phone wizard
    does not catch the gateway's errors; its setup wizard does) into a redirect to the
    same page, instead of a 500; the gateway has added a message saying why. Put it
    after ``MessageMiddleware`` and ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UnsupportedNumberError):
            return None
        # The gateway has told the user already (a message); start the page again.
        return HttpResponseRedirect(request.get_full_path())


def _tell(request: HttpRequest | None, level: int, text: str) -> None:
    """A message for the user, when there is a request with the messages framework."""
    if request is None:
        return
    try:
        messages.add_message(request, level, text, fail_silently=True)
    except Exception:  # a request without a session or storage: say nothing
        logger.debug("could not add a message to the request", exc_info=True)


def _masked(device: Any) -> str:
    """The device's number as logs show it: its country code and last four digits."""
    number = getattr(device, "number", None)
    national = str(getattr(number, "national_number", "") or "")
    country = getattr(number, "country_code", None)
    return f"+{country} …{national[-4:]}" if country else "(no number)"


def _log_not_sent(device: Any, why: str) -> None:
    """A warning that names the device and why, never the token."""
    logger.warning(
        "two-factor token not sent to device %s (%s): %s",
        getattr(device, "pk", None),
        _masked(device),
        why,
    )


class XunchenGateway:
    """two-factor's gateway (``TWO_FACTOR_SMS_GATEWAY``): the token goes by SMS through
    :func:`~django_xunchen.verification.request_code`.

    It never raises for a refusal that passes: a throttled or failed SMS is logged
    (without the token) and, when :class:`RequestMiddleware` is installed, told to the
    user; two-factor's login view would answer 500 to an exception. A number the app
    cannot send to raises :class:`UnsupportedNumberError` while it is being set up (the
    device is not saved yet), and is only logged at login, where raising would lock the
    user out with a 500 (they can use a backup token or another device).
    """

    @sensitive_variables("token")
    def send_sms(self, device: Any, token: str) -> None:
        request = current_request()
        ip = client_ip(request) if request is not None else None
        try:
            result = request_code(device.number, PURPOSE, ip=ip, code=token, ttl=TOKEN_TTL)
        except InvalidMobileError as exc:
            _log_not_sent(device, type(exc).__name__)
            _tell(request, messages.ERROR, str(UnsupportedNumberError.user_message))
            if getattr(device, "pk", None) is None:
                # Being set up: two-factor's setup wizard catches this and says so.
                raise UnsupportedNumberError(exc.invalid) from None
            return
        except XunchenError as exc:
            _log_not_sent(device, type(exc).__name__)
            _tell(request, messages.ERROR, str(_FAILED))
            return
        except Exception as exc:
            # Anything else (the database, say) must not escape either: two-factor's
            # frames above hold the token in plain locals, and an error report would
            # show them.
            _log_not_sent(device, f"unexpected {type(exc).__name__}")
            _tell(request, messages.ERROR, str(_FAILED))
            return
        if result.status == RequestStatus.THROTTLED:
            _log_not_sent(
                device, f"throttled ({result.reason}), retry after {result.retry_after} s"
            )
            _tell(
                request,
                messages.WARNING,
                gettext(
                    "No text message was sent: too many were asked for. "
                    "Please wait %(seconds)d seconds before asking for another one."
                )
                % {"seconds": result.retry_after},
            )
        elif result.status == RequestStatus.FAILED:
            error = type(result.error).__name__ if result.error else "refused"
            _log_not_sent(device, f"failed ({error})")
            _tell(request, messages.ERROR, str(_FAILED))

    def make_call(self, device: Any, token: str) -> None:
        """Voice calls are not supported: the gateway sends SMS only. Set
        ``TWO_FACTOR_CALL_GATEWAY`` to another gateway, or leave it unset so that
        two-factor offers no call method. Raises without sending anything."""
        raise NotImplementedError(
            "django-xunchen's two-factor gateway sends text messages only: it cannot make "
            "calls; leave TWO_FACTOR_CALL_GATEWAY unset or set it to another gateway"
        )
