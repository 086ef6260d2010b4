"""System checks, with stable ids (``manage.py check``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .client.http import endpoint_url
from .client.validation import normalize_encoding
from .conf import REQUIRED_FOR_GATEWAY, xunchen_settings

GATEWAY_BACKEND = "django_xunchen.backends.xunchen.SMSBackend"
NOISY_LOGGERS = ("urllib3", "urllib3.connectionpool", "requests", "http.client")


@checks.register()
def check_settings(app_configs=None, **kwargs):
    errors: list[checks.CheckMessage] = []
    try:
        conf = xunchen_settings()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="django_xunchen.E000")]
    from .backends import load_backend_class

    try:
        backend = load_backend_class(conf["BACKEND"])
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint="Use e.g. 'django_xunchen.backends.xunchen.SMSBackend'.",
                id="django_xunchen.E001",
            )
        )
        backend = None
    from .backends.xunchen import SMSBackend

    if backend is not None and issubclass(backend, SMSBackend):
        missing = [k for k in REQUIRED_FOR_GATEWAY if not conf[k]]
        if missing:
            errors.append(
                checks.Error(
                    "XUNCHEN is missing " + ", ".join(missing) + " for the Xunchen backend.",
                    hint="Set them in settings.XUNCHEN, e.g. from environment variables.",
                    id="django_xunchen.E002",
                )
            )
        if conf["BASE_URL"]:
            try:
                endpoint_url(conf["BASE_URL"])
            except ValueError as exc:
                errors.append(
                    checks.Error(
                        f"XUNCHEN['BASE_URL'] is malformed: {exc}",
                        hint="e.g. 'http://121.43.104.172:8030'",
                        id="django_xunchen.E003",
                    )
                )
    try:
        normalize_encoding(conf["ENCODING"])
    except ValueError as exc:
        errors.append(checks.Error(f"XUNCHEN['ENCODING']: {exc}", id="django_xunchen.E004"))
    batch = conf["BATCH_SIZE"]
    if not isinstance(batch, int) or not 1 <= batch <= 100:
        errors.append(
            checks.Error(
                f"XUNCHEN['BATCH_SIZE'] must be an integer from 1 to 100, not {batch!r}",
                id="django_xunchen.E005",
            )
        )
    errors.extend(_check_spool(conf))
    if _debug_http_logging():
        errors.append(
            checks.Warning(
                "DEBUG logging of urllib3, requests or http.client is on: it can write the "
                "gateway's request bodies, and with them the SMS password, to your logs.",
                hint="Set those loggers to INFO or above in production.",
                id="django_xunchen.W001",
            )
        )
    return errors


def _debug_http_logging() -> bool:
    config = getattr(settings, "LOGGING", None) or {}
    loggers = config.get("loggers", {}) if isinstance(config, dict) else {}
    for name in NOISY_LOGGERS:
        level = (loggers.get(name) or {}).get("level")
        if str(level).upper() == "DEBUG":
            return True
        if logging.getLogger(name).getEffectiveLevel() <= logging.DEBUG and (
            logging.getLogger(name).level != logging.NOTSET
        ):
            return True
    return False


def _check_spool(conf: dict) -> list[checks.CheckMessage]:
    from . import spool

    for key in ("REQUEST_DEADLINE", "OUTCOME_RETRY_SECONDS", "POLL_MAX_AGE"):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            return [
                checks.Error(
                    f"XUNCHEN['{key}'] must be a positive number of seconds, not {value!r}",
                    id="django_xunchen.E007",
                )
            ]
    problem = spool.check_writable()
    if problem:
        return [
            checks.Error(
                f"The outcome spool folder is not writable: {problem}",
                hint="Set XUNCHEN['SPOOL_DIR'] to a folder this process can write to, on "
                "persistent storage (a volume in containers).",
                id="django_xunchen.E006",
            )
        ]
    if not conf["SPOOL_DIR"] and not settings.DEBUG:
        return [
            checks.Warning(
                f"XUNCHEN['SPOOL_DIR'] is not set: send outcomes the database refuses are "
                f"kept in {spool.spool_dir()}, which may not survive a reboot.",
                hint="Set it to a folder on persistent storage.",
                id="django_xunchen.W002",
            )
        ]
    return []


@checks.register(checks.Tags.database)
def check_poll_health(app_configs=None, databases=None, **kwargs):
    """Journal entries set aside and a poller that stopped: run with
    ``manage.py check --database default``."""
    if not databases:
        return []
    from django.db import DatabaseError

    from .health import poll_health

    try:
        health = poll_health()
    except DatabaseError:
        return []  # not migrated yet
    found: list[checks.CheckMessage] = []
    if health.set_aside:
        found.append(
            checks.Warning(
                f"{health.set_aside} poll journal entries could not be ingested and were set "
                "aside; the reports or replies in them are not in the database yet.",
                hint="Open Xunchen SMS › Poll journal in the admin, fix the cause and retry them.",
                id="django_xunchen.W003",
            )
        )
    for problem in health.stale:
        found.append(checks.Warning(problem, id="django_xunchen.W004"))
    if health.spooled:
        found.append(
            checks.Warning(
                f"{health.spooled} send outcomes wait in the spool on this host.",
                hint="Run manage.py send_queued or poll_sms to apply them.",
                id="django_xunchen.W005",
            )
        )
    return found
