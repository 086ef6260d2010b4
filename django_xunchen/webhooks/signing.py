"""Signing webhook bodies, and checking a signature as a receiver does.

Every POST carries the header::

    X-Xunchen-Signature: t=<timestamp>,v1=<signature>

``t`` is the Unix time of the signing, in seconds. ``v1`` is the hex HMAC-SHA256, keyed
with the endpoint's secret (its UTF-8 bytes, ``whsec_`` prefix included), of the ASCII
timestamp, a full stop, then the body exactly as sent: ``f"{t}.".encode() + body``.
The receiver verifies over the raw bytes it read, before parsing any JSON.

The timestamp is signed with the body, so a captured request cannot be replayed with a
fresh ``t``; a receiver refuses one whose ``t`` is more than :data:`DEFAULT_TOLERANCE`
seconds from its own clock, which bounds how long a captured request stays usable.
Redeliveries are signed anew (a new ``t``) but keep the event id
(``X-Xunchen-Event-Id``), by which receivers deduplicate.

A header may hold several ``v1`` entries, and one matching is enough: a sender rotating
its secret can sign with the old and the new one for a while, and receivers move to the
new secret at their own pace. Entries other than ``t`` and ``v1`` are ignored, so a
later scheme can be added alongside without breaking receivers.

A worked example, to check another implementation against::

    secret  whsec_example
    body    {"id":"7d1b3c52-4e0a-4f7e-9a51-2f0c8d6b9e13","type":"message.delivered"}
    header  t=1796551200,v1=c9e2eb2f212c8dc96075047aec508cbbd64bac8d704c3d9288f8330d1bfece25
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from django.utils.translation import gettext as _

SIGNATURE_HEADER = "X-Xunchen-Signature"
EVENT_HEADER = "X-Xunchen-Event"
EVENT_ID_HEADER = "X-Xunchen-Event-Id"
#: Seconds a signature's timestamp may differ from the receiver's clock, either way.
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """A signature header that is malformed, stale, or matches no signature of the body.
    The message never holds the secret or the expected signature."""


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The :data:`SIGNATURE_HEADER` value for ``body``, signed now unless ``timestamp``."""
    if timestamp is None:
        timestamp = int(time.time())
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(
    secret: str,
    body: bytes,
    header_value: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: int | None = None,
) -> int:
    """The signing timestamp, if ``header_value`` holds a ``v1`` signature of ``body``
    under ``secret`` made within ``tolerance`` seconds of ``now``; else
    :class:`SignatureError`."""
    timestamp, candidates = _parse(header_value)
    expected = signature(secret, timestamp, body).encode()
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureError(_("No signature in the header matches the body."))
    if now is None:
        now = int(time.time())
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            _("The signature's timestamp is more than %(tolerance)d seconds away from now.")
            % {"tolerance": tolerance}
        )
    return timestamp


def _parse(header_value: str) -> tuple[int, list[str]]:
    timestamps: list[str] = []
    candidates: list[str] = []
    for item in header_value.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value)
    if len(timestamps) != 1 or not _is_digits(timestamps[0]) or not candidates:
        raise SignatureError(_("The signature header is malformed."))
    return int(timestamps[0]), candidates


def _is_digits(value: str) -> bool:
    """ASCII digits only: ``str.isdigit`` and ``int`` also take other scripts' digits."""
    return value.isascii() and value.isdigit()


__all__ = [
    "DEFAULT_TOLERANCE",
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "SignatureError",
    "header",
    "new_secret",
    "signature",
    "verify",
]
