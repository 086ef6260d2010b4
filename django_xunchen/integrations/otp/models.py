"""A django-otp device whose token is a verification code sent by SMS through the app.

The token is never on the device, nor anywhere in the database: the device asks
:func:`~django_xunchen.verification.request_code` for a code (derived from a nonce with
the app's key; the row keeps a keyed hash, the SMS row the text masked) and checks a token
with :func:`~django_xunchen.verification.check_code`. The app's throttles (the number's
cooldown, hourly and daily limits, the number prefix, the day's volume, and the client's
IP when the caller passes ``ip=``: django-otp's own forms do not) stand in front of every
challenge; django-otp's :class:`~django_otp.models.ThrottlingMixin`
(a wait that doubles after each wrong token) stands in front of every check.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from django_otp.models import Device, GenerateNotAllowed, ThrottlingMixin, TimestampMixin

from django_xunchen.client.validation import normalize_mobile
from django_xunchen.verification import (
    CodeRequest,
    RequestStatus,
    check_code,
    request_code,
    seconds_until_next_code,
)

#: The purpose of a device's codes is ``otp.<device id>``: ``check_code`` keys codes on
#: (number, purpose), so two devices on one number never accept each other's codes, and
#: a code asked for by a login form ("login") is no token of any device.
PURPOSE_PREFIX = "otp."

#: A token worth checking: ASCII digits, as many as a code can have (4 to 8). Anything
#: else cannot be a code and is refused without a query.
_TOKEN = re.compile(r"[0-9]{4,8}")


def validate_mobile(value: object) -> None:
    """A mainland China mobile number, in any form :func:`normalize_mobile` accepts."""
    if normalize_mobile(value) is None:
        raise ValidationError(
            _("Enter a mainland China mobile number (11 digits, starting with 1)."),
            code="invalid_mobile",
        )


def masked_number(number: str) -> str:
    """``138****8000``: what a challenge message shows of the number."""
    return f"{number[:3]}****{number[7:]}" if len(number) == 11 else "****"


class SMSDevice(TimestampMixin, ThrottlingMixin, Device):
    """A :class:`~django_otp.models.Device` whose token goes to ``number`` by SMS.

    :meth:`generate_challenge` sends a code with
    :func:`~django_xunchen.verification.request_code`, within the app's throttles, and
    :meth:`verify_token` checks one with
    :func:`~django_xunchen.verification.check_code` (single use, ``MAX_ATTEMPTS`` per
    code) behind django-otp's throttle. No token is stored: not here, not in the app's
    tables (a nonce and a keyed hash; the SMS row holds the text masked).

    .. attribute:: number

        *CharField*: the 11-digit mainland China mobile number. ``+86``, spaces and
        dashes are accepted and removed by :meth:`clean` and :meth:`save`.
    """

    number = models.CharField(
        _("mobile number"),
        max_length=20,
        validators=[validate_mobile],
        help_text=_("The mainland China mobile number the codes are sent to."),
    )

    class Meta:
        verbose_name = _("SMS device")
        verbose_name_plural = _("SMS devices")

    # ------------------------------------------------------------------ the number

    def clean(self) -> None:
        super().clean()
        number = normalize_mobile(self.number)
        if number is None:
            raise ValidationError(
                {
                    "number": ValidationError(
                        _("Enter a mainland China mobile number (11 digits, starting with 1)."),
                        code="invalid_mobile",
                    )
                }
            )
        self.number = number

    def save(self, *args: Any, **kwargs: Any) -> None:
        number = normalize_mobile(self.number)
        if number is None:
            raise ValidationError(
                f"SMSDevice.number is not a mainland China mobile number: {self.number!r}"
            )
        self.number = number
        super().save(*args, **kwargs)

    @property
    def purpose(self) -> str:
        """``otp.<id>``: the purpose of this device's codes (``request_code``,
        ``check_code``), its own, so that no other device or flow shares its codes."""
        if self.pk is None:
            raise ValueError("save the device before sending or checking a code")
        return f"{PURPOSE_PREFIX}{self.pk}"

    # ------------------------------------------------------------------ the challenge

    def generate_is_allowed(self) -> tuple[bool, dict[str, Any] | None]:
        """``(False, {"reason": GenerateNotAllowed.COOLDOWN_DURATION_PENDING,
        "next_generation_at": when, "retry_after": seconds})`` while the number's own
        limits (the app's ``COOLDOWN``, ``PER_HOUR``, ``PER_DAY``) hold back a new code;
        otherwise what django-otp allows. Reads only. The limits of the client's IP and
        the number prefix are counted when the code is asked for, by
        :meth:`generate_challenge`."""
        wait = seconds_until_next_code(normalize_mobile(self.number) or self.number)
        if wait > 0:
            return False, {
                "reason": GenerateNotAllowed.COOLDOWN_DURATION_PENDING,
                "next_generation_at": timezone.now() + dt.timedelta(seconds=wait),
                "retry_after": wait,
            }
        return super().generate_is_allowed()

    def send_code(self, *, ip: str | None = None) -> CodeRequest:
        """Ask the app for a code to this device's number: what
        :meth:`generate_challenge` does, with the app's whole answer
        (:class:`~django_xunchen.verification.CodeRequest`: ``status``,
        ``retry_after``, ``reason``). ``ip`` is the client's address
        (:func:`~django_xunchen.verification.client_ip`), for the app's per-IP limit."""
        return request_code(self.number, self.purpose, ip=ip)

    def generate_challenge(self, *, ip: str | None = None) -> str:
        """Send a code by SMS and return the message for the user: where it went (the
        number masked), or how long to wait when the app's throttles refused it (nothing
        is sent then), or that it could not be sent. Only the app's throttles decide,
        under their row locks, and a refusal is recorded as a throttle event; call
        :meth:`generate_is_allowed` first to show the wait without asking."""
        result = self.send_code(ip=ip)
        if result.status == RequestStatus.SENT:
            return gettext("sent a code by SMS to %(number)s") % {
                "number": masked_number(self.number)
            }
        if result.status == RequestStatus.THROTTLED:
            seconds = max(1, int(result.retry_after))
            return ngettext(
                "no code sent: wait %(seconds)d second before asking for another one",
                "no code sent: wait %(seconds)d seconds before asking for another one",
                seconds,
            ) % {"seconds": seconds}
        return gettext("the SMS could not be sent; try again later")

    # ------------------------------------------------------------------ the check

    @sensitive_variables("token")
    def verify_token(self, token: object) -> bool:
        """``True`` when ``token`` is this device's live code (which is then used up).

        django-otp's throttle comes first: while it holds (after a wrong token, a wait
        of ``XUNCHEN_OTP_THROTTLE_FACTOR`` seconds that doubles with each further one),
        every token is refused, the right one too, and the code is not touched. A wrong
        token adds to it, a right one resets it. A token that is not a string of 4 to 8
        ASCII digits (surrounding spaces aside) cannot be a code: ``False``, with no
        query and no change."""
        if not isinstance(token, str):
            return False
        token = token.strip()
        if not _TOKEN.fullmatch(token):
            return False
        allowed, _data = self.verify_is_allowed()
        if not allowed:
            return False
        verified = check_code(self.number, token, self.purpose).verified
        if verified:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
        else:
            self.throttle_increment()
        return verified

    def get_throttle_factor(self) -> int:
        """``settings.XUNCHEN_OTP_THROTTLE_FACTOR`` (default 1: waits of 1, 2, 4, 8…
        seconds after successive wrong tokens; 0 turns django-otp's throttle off, and
        leaves the app's ``MAX_ATTEMPTS`` per code)."""
        return int(getattr(settings, "XUNCHEN_OTP_THROTTLE_FACTOR", 1))
