"""The ``XUNCHEN`` settings dict, read through one function with documented defaults.

Settings are either **global** (one value for the site: batch size, lock timeout,
retention…) or **per account** (credentials, base URL, sender number…). A site with
one gateway account writes them all at the top level, as before: that is the account
``"default"``. A site with several writes the per-account ones under
``XUNCHEN["ACCOUNTS"][name]``; a per-account key at the top level (credentials aside)
is then the default of every account.

Precedence: keyword arguments (e.g. a backend's) → the account's settings → top-level
``settings.XUNCHEN`` → :data:`DEFAULTS`. ``django.conf.settings`` is never written to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .client.secret import mask

DEFAULT_ACCOUNT = "default"

#: Settings each account may set for itself.
ACCOUNT_DEFAULTS: dict[str, Any] = {
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
    # Which registered signature to use (signtag); None leaves it to the gateway.
    "SIGN_INDEX": None,
    # The account's sender number (e.g. "106905994140010"), to read the extcode out of a
    # reply's recvcode. When empty, replies are matched by the extcodes we used.
    "SENDER_NUMBER": "",
    # Seconds between two fetches of reports (or replies); the vendor advises 3 minutes.
    "POLL_INTERVAL": 180,
    # Requests sent at once, each on its own connection and thread, within one process
    # or task. The vendor's limit is unknown; SQLite always sends one at a time.
    "CONCURRENCY": 2,
    # The account a request goes to instead when it certainly did not go out on this
    # one (connection refused, account disabled, balance exhausted…). None: no fallback.
    "FALLBACK": None,
    # The kinds of message this account may send. None: the kinds routed to it.
    "KINDS": None,
    # The signature the gateway adds to every message (e.g. "【江苏迅辰】"): it counts
    # toward the billable parts.
    "SIGNATURE": "",
    # Billable parts: a text of up to PART_LENGTHS[0] characters (signature included) is
    # one part; a longer one is split in parts of PART_LENGTHS[1]. China's usual rule;
    # the vendor's may differ.
    "PART_LENGTHS": (70, 67),
    # Price of one part, in the account's currency (the vendor's sample: 0.1 yuan).
    "PRICE_PER_PART": "0.1",
    # The opt-out footer appended to normal marketing text that has none.
    "MARKETING_FOOTER": "回T退订",
    # Quiet hours for marketing, China Standard Time ("HH:MM", "HH:MM"); None: none.
    "QUIET_HOURS": ("21:00", "08:00"),
    # Marketing messages one number may get per day (China Standard Time); None: no cap.
    "MARKETING_DAILY_CAP": 2,
    # Marketing only to numbers whose latest consent entry for "marketing" is a grant
    # (docs/compliance.rst); the others end suppressed, "no consent".
    "REQUIRE_CONSENT": False,
    # An amount of money (e.g. "500"): below it, the balance check warns, fires
    # low_balance once and shows an admin banner until the balance is back. None: off.
    "LOW_BALANCE": None,
    # The most this account may spend in a calendar month (site time zone), in money
    # (e.g. "3000"): a send that would cross it is refused before anything is written,
    # and crossing HEALTH["MONTHLY_CAP_WARNING"] of it raises an alert. None: no cap.
    "MONTHLY_CAP": None,
}

#: Settings with one value for the whole site.
GLOBAL_DEFAULTS: dict[str, Any] = {
    # Several gateway accounts by name; see the module docstring. Empty: one account,
    # "default", configured at the top level.
    "ACCOUNTS": {},
    # Kind ("verification", "notification", "marketing") → account name. A kind without
    # a route goes to "default".
    "ROUTES": {},
    # Seconds to keep retrying the database write that records a send's outcome (the
    # msgid) when the database is down, restarting or locked; then it goes to the spool.
    "OUTCOME_RETRY_SECONDS": 60,
    # Seconds added to the longest REQUEST_DEADLINE and OUTCOME_RETRY_SECONDS before the
    # sweep marks a row left "sending" unknown: room for clocks that differ between
    # machines, and for a slow database.
    "SWEEP_MARGIN": 60,
    # A local folder where outcomes the database refused wait, fsynced, until a later
    # send_sms, send_queued or poll_sms on this host applies them. Required when DEBUG
    # is off (check E014); empty with DEBUG on: "django-xunchen-spool" in the system's
    # temporary directory.
    "SPOOL_DIR": "",
    # Numbers per send request; the gateway takes at most 100.
    "BATCH_SIZE": 100,
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
    # Verification codes and their throttles: see VERIFICATION_DEFAULTS.
    "VERIFICATION": {},
    # Days to keep rows before sms_cleanup deletes them: see RETENTION_DEFAULTS.
    "RETENTION": {},
    # Thresholds of the health checks (sms_health, the health view): see HEALTH_DEFAULTS.
    "HEALTH": {},
    # Signed webhooks (docs/webhooks.rst): see WEBHOOKS_DEFAULTS.
    "WEBHOOKS": {},
    # Replies that put a number on the suppression list for marketing, matched after
    # NFKC, case folding and trimming, as the whole reply or at its start.
    "OPT_OUT_KEYWORDS": ["TD", "T", "N", "R", "退订", "取消", "拒收"],
    # Replies that take a number back off the list.
    "OPT_IN_KEYWORDS": ["订阅", "恢复"],
    # The text the double opt-in view (sms/consent/) asks people to agree to, stored
    # with each grant. None: a sentence in the page's language (docs/compliance.rst).
    "CONSENT_WORDING": None,
    # A number whose last BOUNCE_THRESHOLD reports were all undelivered with the same
    # status is suppressed with BOUNCE_SCOPE ("marketing" or "all"); 0: never.
    "BOUNCE_THRESHOLD": 3,
    "BOUNCE_SCOPE": "marketing",
    # What the operator codes of undelivered reports mean (code → text), for the
    # analytics page: your vendor's table; codes not in it are shown raw.
    "FAILURE_CODES": {},
    # A send to more numbers than this checks the balance first (parts already queued on
    # the account included) and is refused if it would not be covered. None: never.
    "BALANCE_CHECK_ABOVE": 1000,
    # A campaign file of at least this many rows is checked in the background (a task,
    # or cron's send_queued), its upload only storing it; a smaller one in the upload's
    # request. None: every file in the request.
    "CAMPAIGN_BACKGROUND_FROM_ROWS": 20000,
    # send_sms(background=None) sends in the background (Django Tasks) when True.
    "BACKGROUND": False,
    # The task queues: everything, and messages of kind verification.
    "TASK_QUEUE": "default",
    "CODES_TASK_QUEUE": "sms-codes",
    # Times a task re-enqueues rows a certainly-not-sent error left queued (backoff from
    # 60 s, doubling, at most an hour); then the tick's send_queued picks them up.
    "TASK_RETRIES": 5,
    # Seconds between two ticks (send_queued and poll) when tasks replace cron.
    "TICK_SECONDS": 60,
    # Seconds a queued row waits untouched before the tick sends it itself: by then its
    # send task was lost with a worker, or its retries ran out.
    "ORPHANED_AFTER": 60,
    # The largest file staff may upload (the suppression import, a campaign's file), in
    # bytes; an XLSX file's parts may unzip to ten times as much. Checked before reading.
    "UPLOAD_MAX_BYTES": 50 * 1024 * 1024,
    # The most rows such a file may have, besides a header row.
    "UPLOAD_MAX_ROWS": 1_000_000,
}

#: ``XUNCHEN["VERIFICATION"]``: verification codes (docs/verification.rst).
VERIFICATION_DEFAULTS: dict[str, Any] = {
    # Digits per code, 4 to 8.
    "CODE_LENGTH": 6,
    # Seconds a code stays valid.
    "CODE_TTL": 300,
    # Wrong attempts a code allows; then it is dead, even for the right code.
    "MAX_ATTEMPTS": 5,
    # The text of a code SMS: {code} and {minutes} are filled in. Ignored with TEMPLATE.
    "TEXT": "您的验证码是{code}，{minutes}分钟内有效，请勿告诉他人。",
    # A vendor template id for codes (recommended: normal messages may be held for
    # review), and how its parameters are filled.
    "TEMPLATE": None,
    "TEMPLATE_PARAMS": {"1": "{code}", "2": "{minutes}"},
    # The purposes the JSON views accept ("login", "signup", "reset"...).
    "PURPOSES": ["login", "signup", "reset"],
    # Per number, counted across purposes: seconds between two sends, sends per hour,
    # sends per day (Aliyun's limits for codes).
    "COOLDOWN": 60,
    "PER_HOUR": 5,
    "PER_DAY": 10,
    # Sends per client IP per hour. An IPv6 client counts by its network of IPV6_PREFIX
    # bits (32 to 128): one subscriber holds a whole /64 and can rotate through it.
    "IP_PER_HOUR": 20,
    "IPV6_PREFIX": 64,
    # More than PREFIX_LIMIT sends within PREFIX_WINDOW seconds to numbers sharing their
    # first PREFIX_DIGITS digits blocks that prefix for PREFIX_BLOCK seconds.
    "PREFIX_DIGITS": 7,
    "PREFIX_LIMIT": 30,
    "PREFIX_WINDOW": 600,
    "PREFIX_BLOCK": 3600,
    # Code SMS per day (China Standard Time) above which the volume alarm goes off
    # (signal, admin banner, ERROR log); with DAILY_BLOCK, requests are refused beyond it.
    "DAILY_ALARM": 2000,
    "DAILY_BLOCK": False,
    # The client IP: REMOTE_ADDR, unless a trusted proxy sets this header (the META
    # name, e.g. "HTTP_X_FORWARDED_FOR"); the address is then read TRUSTED_PROXY_HOPS
    # entries from the right.
    "TRUSTED_PROXY_HEADER": None,
    "TRUSTED_PROXY_HOPS": 1,
    # The key codes are derived and hashed with; None: derived from SECRET_KEY.
    "KEY": None,
}

DEFAULTS: dict[str, Any] = {**ACCOUNT_DEFAULTS, **GLOBAL_DEFAULTS}

#: Kinds of message, as stored in ``Message.kind``.
KINDS = ("verification", "notification", "marketing")
DEFAULT_KIND = "notification"

REQUIRED_FOR_GATEWAY = ("BASE_URL", "USERNAME", "PASSWORD", "VERY_CODE")
#: The keys that identify a login; never shared between accounts from the top level.
CREDENTIAL_KEYS = ("USERNAME", "PASSWORD", "VERY_CODE")
#: Settings whose values never appear in a repr, a traceback or a debug page.
SECRET_KEYS = ("PASSWORD", "VERY_CODE")


def _configured() -> dict[str, Any]:
    configured = getattr(settings, "XUNCHEN", None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("settings.XUNCHEN must be a dict")
    unknown = set(configured) - set(DEFAULTS)
    if unknown:
        raise ImproperlyConfigured(
            "settings.XUNCHEN has unknown keys: " + ", ".join(sorted(unknown))
        )
    return configured


def _accounts_setting(configured: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    accounts = configured.get("ACCOUNTS") or {}
    if not isinstance(accounts, dict) or not all(isinstance(v, dict) for v in accounts.values()):
        raise ImproperlyConfigured(
            "XUNCHEN['ACCOUNTS'] must be a dict of account name → dict of settings"
        )
    for name, values in accounts.items():
        unknown = set(values) - set(ACCOUNT_DEFAULTS)
        if unknown:
            raise ImproperlyConfigured(
                f"XUNCHEN['ACCOUNTS'][{name!r}] has unknown keys: " + ", ".join(sorted(unknown))
            )
    if accounts and DEFAULT_ACCOUNT not in accounts:
        raise ImproperlyConfigured(
            f"XUNCHEN['ACCOUNTS'] must have an account named {DEFAULT_ACCOUNT!r}, as DATABASES must"
        )
    return accounts


def account_names() -> list[str]:
    """The configured accounts: ``"default"`` first, then the others by name."""
    accounts = _accounts_setting(_configured())
    if not accounts:
        return [DEFAULT_ACCOUNT]
    return [DEFAULT_ACCOUNT, *sorted(n for n in accounts if n != DEFAULT_ACCOUNT)]


def setting_name(account: str, key: str, several: bool | None = None) -> str:
    """How the setting ``key`` of ``account`` is named in a message: where the user wrote
    it, ``XUNCHEN['ACCOUNTS']['codes']['PASSWORD']`` when several accounts are configured
    (``several``, worked out when not given), else ``XUNCHEN['PASSWORD']``."""
    if several is None:
        several = len(account_names()) > 1
    if several:
        return f"XUNCHEN['ACCOUNTS'][{account!r}][{key!r}]"
    return f"XUNCHEN[{key!r}]"


class UnknownAccount(ImproperlyConfigured, KeyError):
    """No account of that name in ``XUNCHEN["ACCOUNTS"]``."""

    def __str__(self) -> str:
        return str(self.args[0])


def xunchen_settings(account: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The effective settings of ``account`` (``"default"`` when not given): globals
    and that account's own, over the defaults, with ``overrides`` on top.

    Keys are upper case; lower-case keyword arguments are accepted
    (``very_code="..."`` overrides ``VERY_CODE``).
    """
    configured = _configured()
    accounts = _accounts_setting(configured)
    name = account or DEFAULT_ACCOUNT
    result = {**DEFAULTS, **configured}
    if accounts:
        if name not in accounts:
            raise UnknownAccount(
                f"no SMS account {name!r}; XUNCHEN['ACCOUNTS'] has "
                + ", ".join(repr(n) for n in account_names())
            )
        for key in CREDENTIAL_KEYS:
            result[key] = ACCOUNT_DEFAULTS[key]
        result.update(accounts[name])
    elif name != DEFAULT_ACCOUNT:
        raise UnknownAccount(
            f"no SMS account {name!r}; only {DEFAULT_ACCOUNT!r} is configured "
            "(set XUNCHEN['ACCOUNTS'] for more)"
        )
    for key, value in overrides.items():
        key_name = key.upper()
        if key_name not in DEFAULTS:
            raise TypeError(f"unknown Xunchen setting {key!r}")
        result[key_name] = value
    for key_name in SECRET_KEYS:
        result[key_name] = mask(result[key_name])
    result["ACCOUNT"] = name
    return result


def _section(name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``XUNCHEN[name]``, a dict of known keys, over ``defaults``."""
    given = xunchen_settings()[name] or {}
    if not isinstance(given, dict):
        raise ImproperlyConfigured(f"XUNCHEN[{name!r}] must be a dict")
    unknown = set(given) - set(defaults)
    if unknown:
        raise ImproperlyConfigured(
            f"XUNCHEN[{name!r}] has unknown keys: " + ", ".join(sorted(unknown))
        )
    return {**defaults, **given}


def verification_settings() -> dict[str, Any]:
    """``XUNCHEN["VERIFICATION"]`` over :data:`VERIFICATION_DEFAULTS`."""
    return _section("VERIFICATION", VERIFICATION_DEFAULTS)


#: ``XUNCHEN["RETENTION"]``: days after which ``manage.py sms_cleanup`` deletes rows
#: (``None``: never). Messages are kept until you choose: what the law or your customers
#: require differs. The poll journal's age is ``JOURNAL_RETENTION_DAYS``.
RETENTION_DEFAULTS: dict[str, int | None] = {
    # Messages (not queued or sending) by creation, with their reports and replies,
    # and unmatched reports and replies.
    "MESSAGES": None,
    # Finished campaigns (done or cancelled) by when they finished, with their rows;
    # their messages stay, under MESSAGES.
    "CAMPAIGNS": None,
    # Verification records by creation (a code lives minutes).
    "VERIFICATION_CODES": 30,
    # Throttle events by time; at least 2, since throttles count back one day.
    "THROTTLE_EVENTS": 30,
    # The HTTP API's request log by time; its idempotency records and rate windows go
    # after a day (their use) whatever this is.
    "API_REQUESTS": 30,
    # Webhook events by time, with their deliveries and attempts.
    "WEBHOOK_EVENTS": 30,
}


def retention_settings() -> dict[str, int | None]:
    """``XUNCHEN["RETENTION"]`` over :data:`RETENTION_DEFAULTS`, checked."""
    result = _section("RETENTION", RETENTION_DEFAULTS)
    for key, days in result.items():
        least = 2 if key == "THROTTLE_EVENTS" else 1
        if days is not None and (type(days) is not int or days < least):
            raise ImproperlyConfigured(
                f"XUNCHEN['RETENTION'][{key!r}] must be a number of days of at least "
                f"{least}, or None, not {days!r}"
            )
    return result


#: ``XUNCHEN["HEALTH"]``: when each health check warns and when it is critical.
HEALTH_DEFAULTS: dict[str, Any] = {
    # Seconds since a poll last fetched successfully (the warning is POLL_MAX_AGE).
    "POLL_CRITICAL": 3600,
    # Seconds the oldest due queued message has waited.
    "QUEUE_WARNING": 600,
    "QUEUE_CRITICAL": 3600,
    # Send and check tasks waiting for a worker (django-tasks-db only).
    "TASKS_WARNING": 1000,
    "TASKS_CRITICAL": 10000,
    # Seconds between two balance checks of one account after sends and polls.
    "BALANCE_EVERY": 3600,
    # The fraction of an account's MONTHLY_CAP whose crossing raises an alert.
    "MONTHLY_CAP_WARNING": 0.8,
    # The delivery alarm (docs/analytics.rst): the rate of an account on one carrier
    # (or in one province), over the messages submitted 15 to 75 minutes ago, below
    # DEGRADED_FRACTION of its rate over the 7 days before, with at least
    # DEGRADED_MIN_MESSAGES of them; or their p90 report latency above
    # DEGRADED_P90_SECONDS (0: not watched).
    "DEGRADED_FRACTION": 0.5,
    "DEGRADED_MIN_MESSAGES": 50,
    "DEGRADED_P90_SECONDS": 600,
    # A bearer token that lets a monitoring system read the health view without a
    # staff login; empty: staff only. Keep it in the environment, as the passwords.
    "TOKEN": "",
}


def health_settings() -> dict[str, Any]:
    """``XUNCHEN["HEALTH"]`` over :data:`HEALTH_DEFAULTS`, checked."""
    result = _section("HEALTH", HEALTH_DEFAULTS)
    for key, value in result.items():
        if key == "TOKEN":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ImproperlyConfigured(
                f"XUNCHEN['HEALTH'][{key!r}] must be a number of at least 0, not {value!r}"
            )
    token = result["TOKEN"]
    if token and len(str(token)) < 32:
        raise ImproperlyConfigured(
            "XUNCHEN['HEALTH']['TOKEN'] must be at least 32 characters (e.g. "
            "secrets.token_urlsafe(32)), or empty"
        )
    result["TOKEN"] = mask(str(token)) if token else ""
    return result


#: ``XUNCHEN["WEBHOOKS"]``: how the app delivers its events (docs/webhooks.rst).
WEBHOOKS_DEFAULTS: dict[str, Any] = {
    # Deliver to private, loopback and link-local addresses: development and tests only.
    "ALLOW_PRIVATE_ADDRESSES": False,
    # Seconds a delivery's POST may take, from connecting to the answer's last byte.
    "TIMEOUT": 10,
    # The part of an answer that is read (and kept in the attempt log); the rest is cut.
    "MAX_RESPONSE_BYTES": 65536,
    # Seconds after its event during which a delivery is retried, with backoff.
    "RETRY_FOR": 86400,
    # Seconds of failures (no success in between) after which an endpoint is disabled.
    "DISABLE_AFTER": 86400,
    # Deliveries one run sends at most (the next run, or the task it enqueues, goes on).
    "BATCH": 500,
}


def webhook_settings() -> dict[str, Any]:
    """``XUNCHEN["WEBHOOKS"]`` over :data:`WEBHOOKS_DEFAULTS`, checked."""
    result = _section("WEBHOOKS", WEBHOOKS_DEFAULTS)
    if not isinstance(result["ALLOW_PRIVATE_ADDRESSES"], bool):
        raise ImproperlyConfigured("XUNCHEN['WEBHOOKS']['ALLOW_PRIVATE_ADDRESSES'] must be a bool")
    for key in ("TIMEOUT", "MAX_RESPONSE_BYTES", "RETRY_FOR", "DISABLE_AFTER", "BATCH"):
        value = result[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ImproperlyConfigured(
                f"XUNCHEN['WEBHOOKS'][{key!r}] must be a number above 0, not {value!r}"
            )
    return result


def allowed_kinds(account: str) -> frozenset[str]:
    """The kinds ``account`` may send: its ``KINDS`` if set, else the kinds that route
    to it (a kind without a route goes to ``"default"``)."""
    conf = xunchen_settings(account)
    if conf["KINDS"] is not None:
        return frozenset(conf["KINDS"])
    routes = conf["ROUTES"] or {}
    return frozenset(k for k in KINDS if routes.get(k, DEFAULT_ACCOUNT) == account)


def route(kind: str, account: str | None = None) -> str:
    """The account a message of ``kind`` goes out on: ``account`` if given, else
    ``ROUTES[kind]``, else ``"default"``."""
    if account:
        return account
    return (xunchen_settings()["ROUTES"] or {}).get(kind) or DEFAULT_ACCOUNT


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
    if not isinstance(configured, dict):
        return
    accounts = configured.get("ACCOUNTS")
    nested = (
        [v for v in accounts.values() if isinstance(v, dict)] if isinstance(accounts, dict) else []
    )
    verification = configured.get("VERIFICATION")
    if isinstance(verification, dict) and verification.get("KEY"):
        verification["KEY"] = mask(verification["KEY"])
    for values in (configured, *nested):
        for name in SECRET_KEYS:
            if name in values:
                values[name] = mask(values[name])


def get_setting(name: str) -> Any:
    return xunchen_settings()[name]
