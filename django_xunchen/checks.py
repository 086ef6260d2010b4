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
