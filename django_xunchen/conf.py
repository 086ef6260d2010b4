"""The ``XUNCHEN`` settings dict, read through one function with documented defaults.

Precedence: keyword arguments (e.g. a backend's) → ``settings.XUNCHEN`` → :data:`DEFAULTS`.
``django.conf.settings`` is never written to.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Dotted path of the backend class, as EMAIL_BACKEND is.
    "BACKEND": "django_xunchen.backends.xunchen.SMSBackend",
    # http://HOST:PORT of the account's gateway (the standard path is added), or the
    # full endpoint URL.
    "BASE_URL": "",
    "USERNAME": "",
    "PASSWORD": "",
    "VERY_CODE": "",
    # "utf-8" (sendUtf8Msg) or "gbk" (sendGbkMsg).
    "ENCODING": "utf-8",
    # Seconds, or a (connect, read) pair.
    "TIMEOUT": (5.0, 30.0),
    # Which registered signature to use (signtag); None leaves it to the gateway.
    "SIGN_INDEX": None,
    # The account's sender number (e.g. "106905994140010"), to read the extcode out of a
    # reply's recvcode. When empty, replies are matched by the extcodes we used.
    "SENDER_NUMBER": "",
    # Numbers per send request; the gateway takes at most 100.
    "BATCH_SIZE": 100,
    # Seconds between two fetches of reports (or replies); the vendor advises 3 minutes.
    "POLL_INTERVAL": 180,
    # Seconds after which a poll lock whose holder stopped renewing it is taken over.
    "LOCK_TIMEOUT": 600,
    # Days to keep ingested raw poll responses.
    "JOURNAL_RETENTION_DAYS": 7,
    # Days within which orphan reports are re-matched and replies matched to messages.
    "MATCH_WINDOW_DAYS": 7,
}

REQUIRED_FOR_GATEWAY = ("BASE_URL", "USERNAME", "PASSWORD", "VERY_CODE")


def xunchen_settings(**overrides: Any) -> dict[str, Any]:
    """The effective settings: ``overrides`` over ``settings.XUNCHEN`` over the defaults.

    Keys are upper case; lower-case keyword arguments are accepted
    (``very_code="..."`` overrides ``VERY_CODE``).
    """
    configured = getattr(settings, "XUNCHEN", None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("settings.XUNCHEN must be a dict")
    unknown = set(configured) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(
            "settings.XUNCHEN has unknown keys: " + ", ".join(sorted(unknown))
        )
    result = {**DEFAULTS, **configured}
    for key, value in overrides.items():
        name = key.upper()
        if name not in DEFAULTS:
            raise TypeError(f"unknown Xunchen setting {key!r}")
        result[name] = value
    return result


def get_setting(name: str) -> Any:
    return xunchen_settings()[name]
