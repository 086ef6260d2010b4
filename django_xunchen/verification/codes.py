"""Request and check a verification code. The code is derived from a nonce with the
server's key when it is sent and never stored: the row keeps a keyed hash and a mask.

``sensitive_variables`` is applied after each definition, not as a decorator: the
mutation run skips decorated functions (docs/testing.rst)."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from ..backends import get_backend
from ..client.secret import Secret
from ..client.types import Mobile
from ..client.validation import validate_content, validate_mobiles
from ..conf import verification_settings
from ..dispatch.submit import Backends, WireText, dispatch
from ..exceptions import MonthlyCapError, XunchenError, XunchenValidationError
from ..models import Message, ThrottleBucket, ThrottleEvent, VerificationCode, gateway_day_start
from ..sending import admission
from ..sending.compose import prepare_messages, resolve_account, resolve_template
from ..signals import (
    code_failed,
    code_requested,
    code_throttled,
    code_verified,
    code_volume_alarm,
    send_robust_logged,
)
from .throttles import _judge, _lock_buckets, _seconds, _Verdict, ip_key, normalize_ip

logger = logging.getLogger("django_xunchen.verification")
State = VerificationCode.State
Reason = ThrottleEvent.Reason


MASK = "●"
_PURPOSE = re.compile(r"[a-z0-9_.-]{1,32}")


class RequestStatus(str, enum.Enum):
    SENT = "sent"
    THROTTLED = "throttled"
    FAILED = "failed"


class CheckStatus(str, enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    NO_CODE = "no_code"


@dataclass(frozen=True)
class CodeRequest:
    """What :func:`request_code` did.

    ``status``: ``sent`` (the SMS went out, or its outcome is unknown: it may have),
    ``throttled`` (nothing sent; wait ``retry_after`` seconds; ``reason`` says which
    throttle), or ``failed`` (the gateway refused it, or it certainly did not go out, or
    the account's ``MONTHLY_CAP`` refused it: ``error`` is a
    :class:`~django_xunchen.exceptions.MonthlyCapError` and nothing was written).
    """

    status: RequestStatus
    retry_after: int = 0
    reason: str = ""
    message: Message | None = None
    error: XunchenError | None = None

    # A property only calls a method: the mutation run skips decorated functions.
    @property
    def sent(self) -> bool:
        return self._sent()

    def _sent(self) -> bool:
        return self.status == RequestStatus.SENT


@dataclass(frozen=True)
class CodeCheck:
    """What :func:`check_code` found. ``attempts_left`` after a wrong guess."""

    status: CheckStatus
    attempts_left: int = 0

    # A property only calls a method: the mutation run skips decorated functions.
    @property
    def verified(self) -> bool:
        return self._verified()

    def _verified(self) -> bool:
        return self.status == CheckStatus.VERIFIED


# --------------------------------------------------------------------------- the code


def app_key() -> bytes:
    """The app's secret key: ``VERIFICATION["KEY"]``, or one derived from ``SECRET_KEY``.
    Codes are derived and hashed with it; an erasure's digest of a number too."""
    configured = verification_settings()["KEY"]
    if configured:
        return str(configured).encode()
    return salted_hmac(
        "django_xunchen.verification", "key", secret=settings.SECRET_KEY, algorithm="sha256"
    ).digest()


def derive_code(nonce: str, length: int) -> str:
    """The code a row's ``nonce`` stands for: uniform over ``length`` digits (the HMAC
    is 256 bits, so the bias of the modulo is below 10⁻⁶⁰)."""
    digest = hmac.new(app_key(), b"code:" + nonce.encode(), hashlib.sha256).digest()
    return str(int.from_bytes(digest, "big") % 10**length).zfill(length)


derive_code = sensitive_variables("digest")(derive_code)


def hash_code(mobile: str, purpose: str, code: str) -> str:
    # surrogatepass: a guess with a lone surrogate ("\ud800", valid JSON) is only wrong.
    message = f"hash:{mobile}:{purpose}:{code}".encode("utf-8", "surrogatepass")
    return hmac.new(app_key(), message, hashlib.sha256).hexdigest()


hash_code = sensitive_variables("code", "message")(hash_code)


def mask(code: str) -> str:
    return MASK * len(code)


mask = sensitive_variables("code")(mask)


# --------------------------------------------------------------------------- input


def _clean(mobile: object, purpose: object, ip: object = None) -> tuple[str, str, str | None]:
    numbers = validate_mobiles(mobile)
    if len(numbers) != 1:
        raise XunchenValidationError("a verification code goes to exactly one number")
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise XunchenValidationError(
            f"purpose must be 1 to 32 lower-case letters, digits, '_', '.' or '-', not {purpose!r}"
        )
    address = None
    if ip is not None and ip != "":
        try:
            address = normalize_ip(ip)
        except ValueError:
            raise XunchenValidationError(f"not an IP address: {ip!r}") from None
    return numbers[0], purpose, address


def client_ip(request: Any) -> str | None:
    """The client's address: ``REMOTE_ADDR``, or, behind a trusted proxy
    (``TRUSTED_PROXY_HEADER``), the entry ``TRUSTED_PROXY_HOPS`` from the right of that
    header, the one the nearest trusted proxy saw. Entries further left are written by
    the client and cannot be trusted; without ``TRUSTED_PROXY_HEADER`` no header is
    read at all. An IPv4-mapped IPv6 address is given as the IPv4 address
    (:func:`~django_xunchen.verification.throttles.normalize_ip`); the throttles count
    an IPv6 address by its network (:func:`~django_xunchen.verification.throttles.ip_key`)."""
    conf = verification_settings()
    header = conf["TRUSTED_PROXY_HEADER"]
    address = request.META.get("REMOTE_ADDR")
    if header:
        hops = [h.strip() for h in request.META.get(header, "").split(",") if h.strip()]
        wanted = int(conf["TRUSTED_PROXY_HOPS"])
        if len(hops) >= wanted > 0:
            address = hops[-wanted]
    try:
        return normalize_ip(address) if address else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- request


def request_code(
    mobile: Mobile,
    purpose: str = "login",
    *,
    ip: str | None = None,
    account: str | None = None,
    code: str | None = None,
    ttl: int | None = None,
) -> CodeRequest:
    """Send a verification code to ``mobile`` for ``purpose``, within the throttles.

    A live code (not used or dead, and with at least half its lifetime left) is sent
    again rather than replaced, so that a delayed first SMS still works. The SMS is a
    ``verification`` Message on the account that kind routes to (or ``account``), with
    its fallback; the stored text has the code masked, and the SMS goes out from memory.
    Bad input raises a :class:`~django_xunchen.exceptions.XunchenValidationError`
    before anything is written. Called inside a transaction, the SMS goes out when it
    commits (the result then says ``sent`` with the message still ``queued``).

    ``ip`` is the client's address (:func:`client_ip`); the per-IP throttle counts an
    IPv6 address by its network of ``IPV6_PREFIX`` bits (:func:`.throttles.ip_key`).

    ``code`` is for a package that makes and checks its own codes (django-allauth,
    django-two-factor-auth): the SMS carries that code, through the same throttles,
    masking and log, and the row keeps its keyed hash (so :func:`check_code` accepts it
    too) but no nonce, so it is never sent again in place of a new one. ``ttl`` is the
    code's lifetime in seconds when it is not ``CODE_TTL`` (the text's ``{minutes}``).
    """

    mobile, purpose, address = _clean(mobile, purpose, ip)
    given = _given_code(code)
    if ttl is not None and (
        isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL
    ):
        raise XunchenValidationError(
            f"ttl is a whole number of seconds, from 1 to {MAX_TTL}, not {ttl!r}"
        )
    conf = verification_settings()
    if ttl is not None:
        conf = {**conf, "CODE_TTL": ttl}

    def reserve(now, sms_backend, template):
        return _reserve(mobile, purpose, address, now, conf, sms_backend, template, given)

    return _throttled(mobile, purpose, address, account, conf, reserve)


def send_notice(
    mobile: Mobile,
    text: str,
    purpose: str,
    *,
    ip: str | None = None,
    account: str | None = None,
) -> CodeRequest:
    """Send ``text`` in place of a code, through the same throttles as
    :func:`request_code`, counted with the codes: for a flow that answers a request for
    a code with a notice instead (django-allauth's "no account uses this number"). The
    answer to a request is then the same whether a code or a notice went, so that a
    throttle's refusal does not tell which numbers have accounts. The notice is a
    ``verification`` Message, not masked (it carries no code); no code row is written."""
    mobile, purpose, address = _clean(mobile, purpose, ip)
    text = validate_content(text)
    conf = verification_settings()

    def reserve(now, sms_backend, template):
        (row,) = prepare_messages(mobile, text, kind="verification", backend=sms_backend)
        admission.check_monthly_cap([row])
        row.metadata = {"verification": purpose, "notice": True}
        row.save(force_insert=True)
        return row, None, WireText(content=text)

    return _throttled(mobile, purpose, address, account, conf, reserve)


def _throttled(mobile, purpose, address, account, conf, reserve) -> CodeRequest:
    """The throttles, under their row locks, then ``reserve(now, backend, template)`` in
    the same transaction when they allow it (its ``(row, code row or None, wire)``),
    then the send: the one path of every code and notice."""
    ip = ip_key(address)
    prefix = mobile[: conf["PREFIX_DIGITS"]]
    name = resolve_account("verification", account)
    sms_backend = get_backend(account=name, fail_silently=True)
    template = resolve_template(conf["TEMPLATE"], name) if conf["TEMPLATE"] else None
    keys = [f"mobile:{mobile}", f"prefix:{prefix}", *([f"ip:{ip}"] if ip else [])]
    now = timezone.now()
    row = record = wire = None
    try:
        with transaction.atomic():
            buckets = _lock_buckets(keys)
            blocked = buckets[f"prefix:{prefix}"].blocked_until
            if blocked and blocked > now:
                verdict = _Verdict(Reason.PREFIX, _seconds(blocked - now))
            else:
                verdict = _judge(mobile, ip, prefix, conf)
                if verdict.reason == Reason.PREFIX:
                    ThrottleBucket.objects.filter(key=f"prefix:{prefix}").update(
                        blocked_until=now + dt.timedelta(seconds=verdict.retry_after)
                    )
            if not verdict.reason:
                row, record, wire = reserve(now, sms_backend, template)
            ThrottleEvent.objects.create(
                mobile=mobile,
                prefix=prefix,
                ip=ip,
                purpose=purpose,
                outcome=ThrottleEvent.Outcome.THROTTLED
                if verdict.reason
                else ThrottleEvent.Outcome.SENT,
                reason=verdict.reason,
                at=now,
            )
    except MonthlyCapError as exc:
        # Refused before anything was written: the throttles' writes are undone too.
        logger.warning("verification code for %s not sent: %s", mobile, exc)
        return CodeRequest(RequestStatus.FAILED, error=exc)
    if verdict.alarm:
        _alarm(verdict.alarm, conf)
    if row is None or wire is None:
        logger.warning(
            "verification code for %s throttled (%s, retry after %d s)",
            mobile,
            verdict.reason,
            verdict.retry_after,
        )
        send_robust_logged(
            code_throttled,
            VerificationCode,
            mobile=mobile,
            purpose=purpose,
            ip=address,
            reason=str(verdict.reason),
            retry_after=verdict.retry_after,
        )
        return CodeRequest(RequestStatus.THROTTLED, verdict.retry_after, str(verdict.reason))
    return _send(row, record, wire, sms_backend, conf)


_GIVEN_CODE = re.compile(r"[0-9A-Za-z]{4,16}")
#: The longest ``ttl`` a caller may give a code: a day.
MAX_TTL = 86400


def _given_code(code: object) -> Secret | None:
    """A caller's own code, checked before anything is written: 4 to 16 ASCII letters or
    digits (the error never repeats it)."""
    if code is None:
        return None
    if not isinstance(code, str) or not _GIVEN_CODE.fullmatch(code):
        raise XunchenValidationError("code must be 4 to 16 ASCII letters or digits")
    return Secret(code)


_given_code = sensitive_variables("code")(_given_code)


def _reserve(mobile, purpose, ip, now, conf, sms_backend, template, given=None):
    """Inside the throttle transaction: the code to send (the live one, a new one, or the
    caller's), its Message row, stored masked, and the text for the wire, in memory only. The code
    and every text that carries it are :class:`~django_xunchen.client.secret.Secret`
    strings, whose repr is masked: a traceback, an error report or the debug page shows
    none of them, even with DEBUG on (when Django's ``sensitive_variables`` is off)."""

    ttl = dt.timedelta(seconds=conf["CODE_TTL"])
    live = (
        VerificationCode.objects.filter(mobile=mobile, purpose=purpose, state=State.ACTIVE)
        .order_by("-created_at", "-id")
        .first()
    )
    reuse = (
        given is None and live is not None and bool(live.nonce) and live.expires_at - now >= ttl / 2
    )
    if given is not None:
        nonce, code = "", given
    else:
        nonce = live.nonce if reuse and live is not None else secrets.token_hex(16)
        code = Secret(derive_code(nonce, int(conf["CODE_LENGTH"])))
    minutes = str(max(1, int(conf["CODE_TTL"]) // 60))
    if template is not None:
        fill = conf["TEMPLATE_PARAMS"]
        params = {k: Secret(v.format(code=code, minutes=minutes)) for k, v in fill.items()}
        hidden = {k: v.format(code=mask(code), minutes=minutes) for k, v in fill.items()}
        (row,) = prepare_messages(
            mobile, template=template, params=params, kind="verification", backend=sms_backend
        )
        row.params, row.content = hidden, template.render(hidden)
        wire = WireText(params=params)
    else:
        text = Secret(conf["TEXT"].format(code=code, minutes=minutes))
        (row,) = prepare_messages(mobile, text, kind="verification", backend=sms_backend)
        row.content = conf["TEXT"].format(code=mask(code), minutes=minutes)
        wire = WireText(content=text)
    admission.check_monthly_cap([row])
    row.masked = True
    row.metadata = {"verification": purpose}
    row.save(force_insert=True)
    if reuse and live is not None:
        VerificationCode.objects.filter(pk=live.pk).update(
            sends=F("sends") + 1, last_sent_at=now, message=row
        )
        return row, live, wire
    if live is not None and live.expires_at > now:
        # Still valid but past half its life: say it was replaced. An expired one needs
        # no write (the newest code is the one checked).
        VerificationCode.objects.filter(pk=live.pk).update(state=State.REPLACED)
    record = VerificationCode.objects.create(
        mobile=mobile,
        purpose=purpose,
        nonce=nonce,
        code_hash=hash_code(mobile, purpose, code),
        max_attempts=conf["MAX_ATTEMPTS"],
        expires_at=now + ttl,
        ip=ip,
        sends=1,
        last_sent_at=now,
        message=row,
    )
    return row, record, wire


_reserve = sensitive_variables("code", "given", "params", "text", "wire")(_reserve)


def _send(
    row: Message, record: VerificationCode | None, wire: WireText, sms_backend, conf
) -> CodeRequest:
    """Send the code: the plain text goes to the backend as an argument of the dispatch
    (``wire_text``), never on the row that signals and receivers see."""

    backends = Backends(first=sms_backend)
    wire_text = {row.pk: wire}

    def requested() -> CodeRequest:
        if record is not None:  # a notice (send_notice) is no code
            send_robust_logged(
                code_requested,
                VerificationCode,
                mobile=row.mobile,
                purpose=record.purpose,
                message=row,
            )
        return CodeRequest(RequestStatus.SENT, int(conf["COOLDOWN"]), message=row)

    if sms_backend.sends_externally and connection.in_atomic_block:
        transaction.on_commit(lambda: dispatch([row], backends, wire_text=wire_text))
        return requested()
    outcome = dispatch([row], backends, wire_text=wire_text)
    if row.status in (Message.Status.SENT, Message.Status.UNKNOWN):
        return requested()
    error = outcome.errors[0] if outcome.errors else None
    if record is not None and record.sends <= 1:
        VerificationCode.objects.filter(pk=record.pk, sends__lte=1).update(state=State.FAILED)
    logger.warning("verification code for %s not sent: %s", row.mobile, error)
    return CodeRequest(RequestStatus.FAILED, message=row, error=error)


_send = sensitive_variables("wire", "wire_text")(_send)


def _alarm(volume: int, conf: dict[str, Any]) -> None:
    logger.error(
        "verification code volume today is %d, at or above DAILY_ALARM (%d): SMS pumping?",
        volume,
        conf["DAILY_ALARM"],
    )
    send_robust_logged(
        code_volume_alarm, VerificationCode, volume=volume, threshold=conf["DAILY_ALARM"]
    )


def volume_today() -> tuple[int, int]:
    """(code SMS sent today, the alarm threshold), for the admin banner."""
    conf = verification_settings()
    count = ThrottleEvent.objects.filter(
        outcome=ThrottleEvent.Outcome.SENT, at__gte=gateway_day_start()
    ).count()
    return count, int(conf["DAILY_ALARM"])


# --------------------------------------------------------------------------- check


def check_code(mobile: Mobile, code: object, purpose: str = "login") -> CodeCheck:
    """Check ``code`` for ``mobile`` and ``purpose``: at most two queries.

    A right code is used up (single use). A wrong one uses an attempt; past
    ``MAX_ATTEMPTS`` the code is dead and even the right code fails. A code is a
    string: anything else (an ``int`` from JSON, which has lost its leading zeros;
    ``None``) raises :class:`~django_xunchen.exceptions.XunchenValidationError` before
    any row is read, and spends no attempt.
    """
    mobile, purpose, _ = _clean(mobile, purpose)
    if not isinstance(code, str):
        raise XunchenValidationError(
            f"a verification code is a string of digits, not {type(code).__name__}"
        )
    guess = Secret(code.strip())
    now = timezone.now()
    record = (
        VerificationCode.objects.filter(mobile=mobile, purpose=purpose)
        .exclude(state__in=[State.REPLACED, State.FAILED])
        .order_by("-created_at", "-id")
        .first()
    )
    if record is None or record.state == State.VERIFIED:
        return _checked(mobile, purpose, CodeCheck(CheckStatus.NO_CODE))
    if record.state == State.DEAD or record.attempts >= record.max_attempts:
        return _checked(mobile, purpose, CodeCheck(CheckStatus.TOO_MANY_ATTEMPTS))
    if record.expires_at <= now:
        return _checked(mobile, purpose, CodeCheck(CheckStatus.EXPIRED))
    right = hmac.compare_digest(record.code_hash, hash_code(mobile, purpose, guess))
    live = VerificationCode.objects.filter(
        pk=record.pk, state=State.ACTIVE, attempts__lt=F("max_attempts"), expires_at__gt=now
    )
    if right:
        if live.update(state=State.VERIFIED, verified_at=now):
            return _checked(mobile, purpose, CodeCheck(CheckStatus.VERIFIED))
        return _checked(mobile, purpose, CodeCheck(CheckStatus.TOO_MANY_ATTEMPTS))
    used = live.update(
        attempts=F("attempts") + 1,
        state=_dead_when_last(),
    )
    if not used:
        return _checked(mobile, purpose, CodeCheck(CheckStatus.TOO_MANY_ATTEMPTS))
    left = max(0, record.max_attempts - record.attempts - 1)
    return _checked(mobile, purpose, CodeCheck(CheckStatus.WRONG, attempts_left=left))


check_code = sensitive_variables("code", "guess")(check_code)


def _dead_when_last():
    return Case(
        When(attempts__gte=F("max_attempts") - 1, then=Value(State.DEAD)),
        default=Value(State.ACTIVE),
    )


def _checked(mobile: str, purpose: str, result: CodeCheck) -> CodeCheck:
    if result.verified:
        send_robust_logged(code_verified, VerificationCode, mobile=mobile, purpose=purpose)
    else:
        logger.info("verification code check for %s: %s", mobile, result.status.value)
        send_robust_logged(
            code_failed,
            VerificationCode,
            mobile=mobile,
            purpose=purpose,
            reason=result.status.value,
        )
    return result
