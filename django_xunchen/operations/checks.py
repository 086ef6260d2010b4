"""System checks, with stable ids (``manage.py check``)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from .. import tasks
from ..backends import BaseSMSBackend, load_backend_class
from ..conf import (
    CREDENTIAL_KEYS,
    KINDS,
    account_names,
    health_settings,
    retention_settings,
    setting_name,
    verification_settings,
    webhook_settings,
    xunchen_settings,
)
from ..outcomes import spool
from .health import poll_health

NOISY_LOGGERS = ("urllib3", "urllib3.connectionpool", "requests", "http.client")


@checks.register()
def check_settings(app_configs=None, **kwargs):
    errors: list[checks.CheckMessage] = []
    try:
        conf = xunchen_settings()
        names = account_names()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="django_xunchen.E000")]
    for section in (retention_settings, health_settings, webhook_settings):
        try:
            section()
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="django_xunchen.E000"))
    errors.extend(_check_monthly_cap_warning())
    errors.extend(_check_accounts_shape(conf, names))
    for name in names:
        errors.extend(_check_account(name, len(names) > 1))
    batch = conf["BATCH_SIZE"]
    if not isinstance(batch, int) or not 1 <= batch <= 100:
        errors.append(
            checks.Error(
                f"XUNCHEN['BATCH_SIZE'] must be an integer from 1 to 100, not {batch!r}",
                id="django_xunchen.E005",
            )
        )
    errors.extend(_check_durations(conf))
    errors.extend(_check_spool(conf))
    errors.extend(_check_verification())
    errors.extend(_check_tasks(conf))
    errors.extend(_check_uploads(conf))
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


def _check_policy(name: str, conf: dict, several: bool) -> list[checks.CheckMessage]:
    import re
    from decimal import Decimal, InvalidOperation

    found: list[checks.CheckMessage] = []

    def bad(key: str, what: str) -> None:
        found.append(
            checks.Error(
                f"{_key(name, key, several)} must be {what}, not {conf[key]!r}",
                id="django_xunchen.E012",
            )
        )

    quiet = conf["QUIET_HOURS"]
    clock = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
    if quiet is not None and (
        not isinstance(quiet, (list, tuple))
        or len(quiet) != 2
        or not all(isinstance(v, str) and clock.fullmatch(v) for v in quiet)
    ):
        bad("QUIET_HOURS", 'a pair of "HH:MM" times, or None')
    lengths = conf["PART_LENGTHS"]
    if not (
        isinstance(lengths, (list, tuple))
        and len(lengths) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in lengths)
    ):
        bad("PART_LENGTHS", "a pair of positive whole numbers, such as (70, 67)")
    try:
        price = Decimal(str(conf["PRICE_PER_PART"]))
        if not price.is_finite() or price < 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        bad("PRICE_PER_PART", "a price such as '0.1'")
    cap = conf["MARKETING_DAILY_CAP"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        bad("MARKETING_DAILY_CAP", "a whole number of 1 or more, or None")
    low = conf["LOW_BALANCE"]
    try:
        if low is not None and (isinstance(low, bool) or not Decimal(str(low)).is_finite()):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        bad("LOW_BALANCE", "an amount such as '500', or None")
    cap = conf["MONTHLY_CAP"]
    try:
        if cap is not None and (
            isinstance(cap, bool) or not Decimal(str(cap)).is_finite() or Decimal(str(cap)) <= 0
        ):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        bad("MONTHLY_CAP", "an amount above 0 such as '3000', or None")
    return found


def _check_monthly_cap_warning() -> list[checks.CheckMessage]:
    """``HEALTH["MONTHLY_CAP_WARNING"]``: a fraction of the cap, above 0 and at most 1
    (above 1 the alert could never fire: a send that crosses the cap is refused)."""
    try:
        fraction = health_settings()["MONTHLY_CAP_WARNING"]
    except ImproperlyConfigured:
        return []  # reported above
    if 0 < fraction <= 1:
        return []
    return [
        checks.Error(
            "XUNCHEN['HEALTH']['MONTHLY_CAP_WARNING'] must be a fraction of the cap above 0 "
            f"and at most 1, such as 0.8, not {fraction!r}",
            id="django_xunchen.E000",
        )
    ]


def _check_uploads(conf: dict) -> list[checks.CheckMessage]:
    """The caps on the files staff upload: whole numbers of at least 1."""
    found = []
    for key, what in (("UPLOAD_MAX_BYTES", "bytes"), ("UPLOAD_MAX_ROWS", "rows")):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            found.append(
                checks.Error(
                    f"XUNCHEN[{key!r}] must be a whole number of {what} of 1 or more, "
                    f"not {value!r}",
                    id="django_xunchen.E015",
                )
            )
    return found


def _check_tasks(conf: dict) -> list[checks.CheckMessage]:
    """With BACKGROUND on: the task framework is there, and its backend takes our queues."""
    if not conf["BACKGROUND"]:
        return []
    if tasks.task_backends is None:
        return [checks.Error(tasks.NO_ENGINE, id="django_xunchen.E013")]
    try:
        backend = tasks.task_backends["default"]
    except Exception as exc:
        return [checks.Error(f"the default task backend: {exc}", id="django_xunchen.E013")]
    queues = getattr(backend, "queues", None)
    wanted = {conf["TASK_QUEUE"], conf["CODES_TASK_QUEUE"]}
    missing = sorted(wanted - set(queues)) if queues else []
    if missing:
        return [
            checks.Error(
                "the default task backend does not take the queue(s) "
                + ", ".join(missing)
                + " that XUNCHEN's TASK_QUEUE and CODES_TASK_QUEUE name",
                hint="Add them to TASKS['default']['QUEUES'], or change those settings.",
                id="django_xunchen.E013",
            )
        ]
    return []


def _check_verification() -> list[checks.CheckMessage]:
    try:
        conf = verification_settings()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="django_xunchen.E011")]
    found: list[checks.CheckMessage] = []

    def bad(key: str, what: str) -> None:
        found.append(
            checks.Error(
                f"XUNCHEN['VERIFICATION'][{key!r}] must be {what}, not {conf[key]!r}",
                id="django_xunchen.E011",
            )
        )

    length = conf["CODE_LENGTH"]
    if isinstance(length, bool) or not isinstance(length, int) or not 4 <= length <= 8:
        bad("CODE_LENGTH", "a whole number from 4 to 8")
    for key in (
        "CODE_TTL",
        "MAX_ATTEMPTS",
        "PER_HOUR",
        "PER_DAY",
        "IP_PER_HOUR",
        "PREFIX_LIMIT",
        "PREFIX_WINDOW",
        "PREFIX_BLOCK",
        "DAILY_ALARM",
        "TRUSTED_PROXY_HOPS",
    ):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            bad(key, "a whole number of 1 or more")
    cooldown = conf["COOLDOWN"]
    if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
        bad("COOLDOWN", "a whole number of seconds")
    prefix = conf["PREFIX_DIGITS"]
    if isinstance(prefix, bool) or not isinstance(prefix, int) or not 3 <= prefix <= 11:
        bad("PREFIX_DIGITS", "a whole number from 3 to 11")
    bits = conf["IPV6_PREFIX"]
    if isinstance(bits, bool) or not isinstance(bits, int) or not 32 <= bits <= 128:
        bad("IPV6_PREFIX", "a whole number of bits from 32 to 128")
    if not conf["TEMPLATE"] and "{code}" not in str(conf["TEXT"]):
        bad("TEXT", "a text with {code} in it")
    if conf["TEMPLATE"] and not any("{code}" in str(v) for v in conf["TEMPLATE_PARAMS"].values()):
        bad("TEMPLATE_PARAMS", "a dict whose values put {code} in a parameter")
    purposes = conf["PURPOSES"]
    if not isinstance(purposes, (list, tuple)) or not all(isinstance(p, str) for p in purposes):
        bad("PURPOSES", "a list of purpose names")
    return found


def _key(account: str, key: str, several: bool) -> str:
    """How a setting is named in a message: where the user wrote it."""
    return setting_name(account, key, several)


def _check_accounts_shape(conf: dict, names: list[str]) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    configured = getattr(settings, "XUNCHEN", None) or {}
    if conf["ACCOUNTS"]:
        given = [k for k in CREDENTIAL_KEYS if configured.get(k)]
        if given:
            errors.append(
                checks.Error(
                    "XUNCHEN has top-level " + ", ".join(given) + " as well as ACCOUNTS: it "
                    "is not clear which account they belong to.",
                    hint="Move them into XUNCHEN['ACCOUNTS']['default'].",
                    id="django_xunchen.E008",
                )
            )
    routes = conf["ROUTES"]
    if not isinstance(routes, dict):
        return [
            *errors,
            checks.Error(
                f"XUNCHEN['ROUTES'] must be a dict of kind → account, not {routes!r}",
                id="django_xunchen.E009",
            ),
        ]
    for kind, account in routes.items():
        if kind not in KINDS:
            errors.append(
                checks.Error(
                    f"XUNCHEN['ROUTES'] has the kind {kind!r}, which is not one of "
                    + ", ".join(KINDS),
                    id="django_xunchen.E009",
                )
            )
        elif account not in names:
            errors.append(
                checks.Error(
                    f"XUNCHEN['ROUTES'][{kind!r}] names the account {account!r}, which is "
                    "not configured; accounts: " + ", ".join(names),
                    id="django_xunchen.E009",
                )
            )
    return errors


def _check_account(name: str, several: bool) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    conf = xunchen_settings(name)
    where = f" (account {name!r})" if several else ""
    try:
        backend = load_backend_class(conf["BACKEND"])
    except ImproperlyConfigured as exc:
        errors.append(
            checks.Error(
                f"{_key(name, 'BACKEND', several)}: {exc}",
                hint="Use e.g. 'django_xunchen.backends.xunchen.SMSBackend'.",
                id="django_xunchen.E001",
            )
        )
        errors.extend(BaseSMSBackend.check(conf))  # what every backend reads
    else:
        # The backend's own checks (credentials, BASE_URL…): BaseSMSBackend.check.
        errors.extend(backend.check(conf))
    errors.extend(_check_routing(name, conf, several, where))
    return errors


def _check_routing(name: str, conf: dict, several: bool, where: str) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    kinds = conf["KINDS"]
    if kinds is not None and (
        isinstance(kinds, str)
        or not isinstance(kinds, (list, tuple, set, frozenset))
        or not set(kinds) <= set(KINDS)
    ):
        errors.append(
            checks.Error(
                f"{_key(name, 'KINDS', several)} must be a list of "
                + ", ".join(KINDS)
                + f", not {kinds!r}",
                id="django_xunchen.E010",
            )
        )
    fallback = conf["FALLBACK"]
    if fallback is not None:
        if fallback == name:
            errors.append(
                checks.Error(
                    f"{_key(name, 'FALLBACK', several)} names the account itself.",
                    id="django_xunchen.E010",
                )
            )
        elif fallback not in account_names():
            errors.append(
                checks.Error(
                    f"{_key(name, 'FALLBACK', several)} names the account {fallback!r}, "
                    "which is not configured.",
                    id="django_xunchen.E010",
                )
            )
    errors.extend(_check_policy(name, conf, several))
    for key, least in (("REQUEST_DEADLINE", 0), ("POLL_INTERVAL", -1)):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= least:
            what = "a positive" if least == 0 else "a"
            errors.append(
                checks.Error(
                    f"{_key(name, key, several)} must be {what} number of seconds, not {value!r}",
                    id="django_xunchen.E007",
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


def _check_durations(conf: dict) -> list[checks.CheckMessage]:
    """The global settings that are a number of seconds."""
    found: list[checks.CheckMessage] = []
    for key in ("OUTCOME_RETRY_SECONDS", "POLL_MAX_AGE", "SWEEP_MARGIN", "ORPHANED_AFTER"):
        value = conf[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            found.append(
                checks.Error(
                    f"XUNCHEN['{key}'] must be a positive number of seconds, not {value!r}",
                    id="django_xunchen.E007",
                )
            )
    return found


def _check_spool(conf: dict) -> list[checks.CheckMessage]:
    if not conf["SPOOL_DIR"] and not settings.DEBUG:
        return [
            checks.Error(
                spool.UNSET,
                hint="Set XUNCHEN['SPOOL_DIR'] to a folder on persistent storage (a volume "
                "in containers) that every process that sends on this host can write to.",
                id="django_xunchen.E014",
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
    return []


@checks.register(checks.Tags.database)
def check_poll_health(app_configs=None, databases=None, **kwargs):
    """Journal entries set aside and a poller that stopped: run with
    ``manage.py check --database default``."""
    if not databases:
        return []
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
    if health.spool_bad:
        found.append(
            checks.Warning(
                f"{health.spool_bad} spool files on this host could not be read or applied "
                "and were set aside (renamed *.bad).",
                hint="The log names the reason for each; fix the file and rename it back to "
                "*.json, or delete it. See the fault table in the docs.",
                id="django_xunchen.W006",
            )
        )
    return found
