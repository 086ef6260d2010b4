"""The health checks that monitoring reads: ``manage.py sms_health``, the health view
(JSON and Prometheus text) and the admin's banner all call :func:`run_checks`, so the
three never disagree.

Each check has a level: 0 ok, 1 warning, 2 critical (the command's exit code is the
worst of them). Thresholds are ``XUNCHEN["HEALTH"]`` and, for the balance, each
account's ``LOW_BALANCE`` (for the month's spend, its ``MONTHLY_CAP``). Nothing here
calls the gateway: the balance is the one the last balance check stored
(:mod:`.alerts`), with its age.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .. import policy
from ..analytics import alarm
from ..conf import account_names, health_settings, xunchen_settings
from ..db import from_db_datetime, to_db_datetime
from ..models import AccountBalance, Message, PollJournalEntry, WebhookEndpoint
from ..outcomes import spool
from ..polling import spool as poll_spool
from .health import PollHealth, poll_health

Op = PollJournalEntry.Operation


class Level(enum.IntEnum):
    OK = 0
    WARNING = 1
    CRITICAL = 2


@dataclass
class Check:
    """One figure and what it means: ``name`` (``queue_age``…), ``account`` (or ""),
    ``value`` (seconds, a count, an amount; ``None``: not measured) and a sentence."""

    name: str
    level: Level
    value: float | None
    detail: str
    account: str = ""
    operation: str = ""

    def as_dict(self) -> dict[str, object]:
        found = asdict(self)
        found["level"] = self.level.name.lower()
        return found


def worst(checks: Iterable[Check]) -> Level:
    return max((c.level for c in checks), default=Level.OK)


def _level(value: float, warning: float | None, critical: float | None) -> Level:
    if critical is not None and value >= critical:
        return Level.CRITICAL
    if warning is not None and value >= warning:
        return Level.WARNING
    return Level.OK


def run_checks(now: dt.datetime | None = None) -> list[Check]:
    """Every check, in a fixed order: polls per account and operation, the spools, the
    journal, the queue, the tasks, the balances, the month's spend against a cap, the
    delivery of each channel. A few small queries and a look at this host's spool
    folder."""
    now = now or timezone.now()
    conf = health_settings()
    set_aside, oldest, delivery, troubled = _set_aside_oldest_due_and_delivery(now)
    health = poll_health(now, set_aside=set_aside)
    checks = _poll_checks(health, now, conf)
    checks += spool_checks(health.spooled, health.answers_waiting, health.spool_bad)
    checks += [journal_check(set_aside), _queue_check(oldest, now, conf), _tasks_check(conf)]
    checks += _balance_checks(now, conf)
    checks += monthly_spend_checks(conf)
    checks.append(delivery_check(now, conf, delivery))
    checks.append(webhook_check(troubled))
    return checks


def _troubled_endpoints() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(
        Q(is_active=True, failing_since__isnull=False)
        | Q(is_active=False, disabled_at__isnull=False)
    )


def webhook_check(troubled: int | None = None) -> Check:
    """Webhook endpoints the app disabled after a day of failures (critical until staff
    enable them again), or failing now (a warning). ``troubled``: how many there are,
    when the caller counted them already (none: no query)."""
    if troubled == 0:
        return Check("webhooks", Level.OK, 0, _("No webhook endpoint is failing."))
    rows = list(_troubled_endpoints().values_list("name", "is_active"))
    disabled = [name for name, active in rows if not active]
    failing = [name for name, active in rows if active]
    if disabled:
        detail = _("Webhook endpoints disabled after a day of failures: %(names)s.") % {
            "names": ", ".join(disabled)
        }
        return Check("webhooks", Level.CRITICAL, len(disabled), detail)
    if failing:
        detail = _("Webhook endpoints failing: %(names)s.") % {"names": ", ".join(failing)}
        return Check("webhooks", Level.WARNING, len(failing), detail)
    return Check("webhooks", Level.OK, 0, _("No webhook endpoint is failing."))


def _poll_checks(health: PollHealth, now: dt.datetime, conf: dict) -> list[Check]:
    warning = float(xunchen_settings()["POLL_MAX_AGE"])
    checks = []
    for (account, operation), last in health.last_success.items():
        stale = health.stale_by_key.get((account, operation), "")
        if last is None:
            checks.append(Check("poll_age", Level.CRITICAL, None, stale, account, operation))
            continue
        age = max(0.0, (now - last).total_seconds())
        level = _level(age, warning, float(conf["POLL_CRITICAL"]))
        detail = stale or _("Last successful fetch %(seconds)d s ago.") % {"seconds": age}
        checks.append(Check("poll_age", level, age, detail, account, operation))
    problem = health.spool_problem
    checks.append(
        Check(
            "spool_dir",
            Level.WARNING if problem else Level.OK,
            None,
            problem or _("Send outcomes the database refuses are kept on this host's disk."),
        )
    )
    return checks


def spool_checks(
    waiting: int | None = None, answers: int | None = None, bad: int | None = None
) -> list[Check]:
    """The spools of this host; each count is looked up unless given."""
    waiting = len(spool.pending()) if waiting is None else waiting
    answers = poll_spool.counts()[0] if answers is None else answers
    bad = len(spool.bad_files()) if bad is None else bad
    return [
        Check(
            "spool_outcomes_waiting",
            Level.WARNING if waiting else Level.OK,
            waiting,
            ngettext(
                "%(count)d send outcome waits in the spool on this host.",
                "%(count)d send outcomes wait in the spool on this host.",
                waiting,
            )
            % {"count": waiting},
        ),
        Check(
            "spool_answers_waiting",
            Level.WARNING if answers else Level.OK,
            answers,
            ngettext(
                "%(count)d poll answer the database refused waits on disk; the next "
                "poll_sms journals it",
                "%(count)d poll answers the database refused wait on disk; the next "
                "poll_sms journals them",
                answers,
            )
            % {"count": answers},
        ),
        Check(
            "spool_set_aside",
            Level.CRITICAL if bad else Level.OK,
            bad,
            ngettext(
                "%(count)d spool file on this host could not be read or applied and was "
                "set aside (renamed *.bad); the log says why.",
                "%(count)d spool files on this host could not be read or applied and were "
                "set aside (renamed *.bad); the log says why.",
                bad,
            )
            % {"count": bad},
        ),
    ]


def journal_check(count: int | None = None) -> Check:
    """The journal entries set aside; counted unless given."""
    if count is None:
        count = PollJournalEntry.objects.filter(state=PollJournalEntry.State.SET_ASIDE).count()
    return Check(
        "journal_set_aside",
        Level.CRITICAL if count else Level.OK,
        count,
        ngettext(
            "%(count)d poll journal entry could not be ingested and was set aside.",
            "%(count)d poll journal entries could not be ingested and were set aside.",
            count,
        )
        % {"count": count},
    )


def _set_aside_oldest_due_and_delivery(
    now: dt.datetime,
) -> tuple[int, dt.datetime | None, list[dict[str, Any]], int]:
    """The journal entries set aside, when the oldest due queued message was written,
    the rows the delivery alarm judges (:func:`~django_xunchen.analytics.alarm.query`)
    and how many webhook endpoints are failing or disabled, in one query: the banner on
    every admin page reads them (its pages keep to ten queries)."""
    journal = PollJournalEntry.objects.filter(state=PollJournalEntry.State.SET_ASIDE)
    due = Message.objects.filter(status=Message.Status.QUEUED).filter(
        Q(hold_until__isnull=True) | Q(hold_until__lte=to_db_datetime(now))
    )
    count_sql, count_params = journal.values("pk").query.sql_with_params()
    oldest_sql, oldest_params = (
        due.order_by("created_at").values("created_at")[:1].query.sql_with_params()
    )
    delivery_sql, delivery_params = alarm.query(now).query.sql_with_params()
    hooks_sql, hooks_params = _troubled_endpoints().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            # Four querysets Django compiled, their values passed as parameters: one
            # row of the three figures, repeated beside each row of the alarm's (if any).
            "SELECT head.set_aside, head.oldest, head.hooks, delivery.* FROM ("  # noqa: S608
            f"SELECT (SELECT COUNT(*) FROM ({count_sql}) AS set_aside) AS set_aside, "
            f"({oldest_sql}) AS oldest, "
            f"(SELECT COUNT(*) FROM ({hooks_sql}) AS hooks) AS hooks) AS head "
            f"LEFT JOIN ({delivery_sql}) AS delivery ON 1 = 1",
            (*count_params, *oldest_params, *hooks_params, *delivery_params),
        )
        names = [column[0] for column in cursor.description][3:]
        rows = cursor.fetchall()
    count, oldest, hooks = rows[0][:3]
    if connection.vendor == "sqlite":  # the text it stores, UTC when USE_TZ is on
        oldest = connection.ops.convert_datetimefield_value(oldest, None, connection)
    delivery = [dict(zip(names, row[3:], strict=True)) for row in rows]
    return int(count), from_db_datetime(oldest), delivery, int(hooks)


def _queue_check(oldest: dt.datetime | None, now: dt.datetime, conf: dict) -> Check:
    age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    level = _level(age, float(conf["QUEUE_WARNING"]), float(conf["QUEUE_CRITICAL"]))
    detail = _("The oldest message due to be sent has waited %(seconds)d s.") % {"seconds": age}
    return Check("queue_age", level, age, detail)


def _tasks_check(conf: dict) -> Check:
    engine = (getattr(settings, "TASKS", {}) or {}).get("default", {}).get("BACKEND", "")
    if not (apps.is_installed("django_tasks_db") and engine.startswith("django_tasks_db.")):
        return Check("tasks_waiting", Level.OK, None, _("Not measured for this task engine."))
    from django_tasks_db.models import DBTaskResult

    count = DBTaskResult.objects.ready().count()  # due now, as a worker sees them
    level = _level(count, float(conf["TASKS_WARNING"]), float(conf["TASKS_CRITICAL"]))
    return Check("tasks_waiting", level, count, _("Tasks waiting for a worker."))


def _balance_checks(now: dt.datetime, conf: dict) -> list[Check]:
    watched = {name: xunchen_settings(name) for name in account_names()}
    watched = {name: c for name, c in watched.items() if c["LOW_BALANCE"] is not None}
    if not watched:
        return []
    stored = {b.account: b for b in AccountBalance.objects.filter(account__in=watched)}
    checks = []
    for account, account_conf in watched.items():
        threshold = account_conf["LOW_BALANCE"]
        row = stored.get(account)
        if row is None or row.amount is None:
            reason = row.error if row is not None and row.error else _("Not checked yet.")
            checks.append(Check("balance", Level.WARNING, None, reason, account))
            continue
        amount = row.amount
        price = Decimal(str(account_conf["PRICE_PER_PART"]))
        if amount < price:
            level = Level.CRITICAL
        elif amount < Decimal(str(threshold)):
            level = Level.WARNING
        else:
            level = Level.OK
        detail = _("Balance %(amount)s (LOW_BALANCE %(threshold)s), read %(when)s.") % {
            "amount": amount,
            "threshold": threshold,
            "when": timezone.localtime(row.checked_at).isoformat(timespec="minutes")
            if row.checked_at
            else "—",
        }
        checks.append(Check("balance", level, float(amount), detail, account))
    return checks


def monthly_spend_checks(conf: dict | None = None) -> list[Check]:
    """This month's spend of each account with a ``MONTHLY_CAP``: a warning from
    ``HEALTH["MONTHLY_CAP_WARNING"]`` of the cap, critical at the cap (sends that would
    cross it are refused). The rollup is read once for all of them."""
    caps = {name: policy.monthly_cap(name) for name in account_names()}
    capped = {name: cap for name, cap in caps.items() if cap is not None}
    if not capped:
        return []
    fraction = Decimal(str((conf or health_settings())["MONTHLY_CAP_WARNING"]))
    spent = policy.month_spends(capped)
    checks = []
    for account, cap in capped.items():
        if spent[account] >= cap:
            level = Level.CRITICAL
        elif spent[account] >= fraction * cap:
            level = Level.WARNING
        else:
            level = Level.OK
        detail = _(
            "Account %(account)s has spent %(spent)s this month of its MONTHLY_CAP %(cap)s "
            "(%(percent)d%%); a send that would cross it is refused."
        ) % {
            "account": account,
            "spent": spent[account],
            "cap": cap,
            "percent": 100 * spent[account] / cap if cap else 100,
        }
        checks.append(Check("monthly_spend", level, float(spent[account]), detail, account))
    return checks


#: The degraded channels the ``delivery`` check names; the others are counted.
DELIVERY_NAMED = 3


def delivery_check(
    now: dt.datetime, conf: dict, rows: Iterable[Mapping[str, Any]] | None = None
) -> Check:
    """The delivery alarm (:mod:`django_xunchen.analytics.alarm`): critical while a
    channel, an account on one carrier or in one province, is degraded. From ``rows``
    of :func:`~django_xunchen.analytics.alarm.query` already read, else one query."""
    found = alarm.degraded(now, conf) if rows is None else alarm.judge(rows, conf)
    if not found:
        return Check(
            "delivery",
            Level.OK,
            0,
            _(
                "No channel's delivery is degraded (messages submitted 15 to 75 minutes "
                "ago, per account and carrier or province)."
            ),
        )
    detail = " ".join(d.detail for d in found[:DELIVERY_NAMED])
    more = len(found) - DELIVERY_NAMED
    if more > 0:
        detail += " " + ngettext(
            "And %(count)d more degraded channel.", "And %(count)d more degraded channels.", more
        ) % {"count": more}
    return Check("delivery", Level.CRITICAL, len(found), detail)


# ------------------------------------------------------------------ formats


def as_json(checks: list[Check]) -> str:
    return json.dumps(
        {"status": worst(checks).name.lower(), "checks": [c.as_dict() for c in checks]},
        ensure_ascii=False,
        indent=2,
    )


_LABEL = re.compile(r'["\\\n]')


def _labels(check: Check) -> str:
    pairs = [("check", check.name), ("account", check.account), ("operation", check.operation)]

    def escape(value: str) -> str:
        return _LABEL.sub(lambda m: {'"': '\\"', "\\": "\\\\", "\n": "\\n"}[m.group()], value)

    return ",".join(f'{k}="{escape(v)}"' for k, v in pairs if v or k == "check")


def as_prometheus(checks: list[Check]) -> str:
    """The Prometheus text exposition format (version 0.0.4): one level and one value
    per check, and the worst level."""
    lines = [
        "# HELP xunchen_health_status The worst level of every check: 0 ok, 1 warning, 2 critical.",
        "# TYPE xunchen_health_status gauge",
        f"xunchen_health_status {int(worst(checks))}",
        "# HELP xunchen_health_level Each check's level: 0 ok, 1 warning, 2 critical.",
        "# TYPE xunchen_health_level gauge",
    ]
    lines += [f"xunchen_health_level{{{_labels(c)}}} {int(c.level)}" for c in checks]
    lines += [
        "# HELP xunchen_health_value Each check's figure: seconds, a count or an amount.",
        "# TYPE xunchen_health_value gauge",
    ]
    lines += [
        f"xunchen_health_value{{{_labels(c)}}} {float(c.value)!r}"
        for c in checks
        if c.value is not None
    ]
    return "\n".join(lines) + "\n"
