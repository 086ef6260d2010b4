"""The ``XUNCHEN`` settings dict, read through one function with documented defaults.

Precedence: keyword arguments (e.g. a backend's) → ``settings.XUNCHEN`` → :data:`DEFAULTS`.
``django.conf.settings`` is never written to.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .client.secret import mask

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
    # Seconds, or a (connect, read) pair, for each socket operation.
    "TIMEOUT": (5.0, 30.0),
    # Seconds a whole request may take, connect and all reads included.
    "REQUEST_DEADLINE": 60,
    # Seconds to keep retrying the database write that records a send's outcome (the
    # msgid) when the database is down, restarting or locked; then it goes to the spool.
    "OUTCOME_RETRY_SECONDS": 60,
    # A local folder where outcomes the database refused wait, fsynced, until a later
    # send_sms, send_queued or poll_sms on this host applies them. Empty: a folder
    # "django-xunchen-spool" in the system's temporary directory.
    "SPOOL_DIR": "",
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
    # Seconds since the last successful fetch after which `poll_sms --check` fails and
    # the admin shows a warning.
    "POLL_MAX_AGE": 900,
    # Ingest attempts after which a journal entry is set aside for staff to look at.
    "JOURNAL_MAX_ATTEMPTS": 3,
    # Days to keep ingested raw poll responses.
    "JOURNAL_RETENTION_DAYS": 7,
    # Days within which orphan reports are re-matched and replies matched to messages.
    "MATCH_WINDOW_DAYS": 7,
}

REQUIRED_FOR_GATEWAY = ("BASE_URL", "USERNAME", "PASSWORD", "VERY_CODE")
#: Settings whose values never appear in a repr, a traceback or a debug page.
SECRET_KEYS = ("PASSWORD", "VERY_CODE")


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
    for name in SECRET_KEYS:
        result[name] = mask(result[name])
    return result


def mask_configured_secrets(**kwargs: Any) -> None:
    """Wrap the credentials in ``settings.XUNCHEN`` in :class:`Secret`, in place.

    Django's error reports list every setting, hiding only names that look secret:
    ``PASSWORD`` inside ``XUNCHEN`` is hidden, ``VERY_CODE`` is not. A :class:`Secret`
    is the same string everywhere except in ``repr()``, which is what those reports,
    the debug page and the logged frame variables show. Connected to ``setting_changed``
    so that ``override_settings`` is masked too.
    """
    setting = kwargs.get("setting")
    if setting not in (None, "XUNCHEN"):
        return
    configured = getattr(settings, "XUNCHEN", None)
    if isinstance(configured, dict):
        for name in SECRET_KEYS:
            if name in configured:
                configured[name] = mask(configured[name])


def get_setting(name: str) -> Any:
    return xunchen_settings()[name]
