"""Health that monitoring reads: each check crosses into warning and into critical at
its thresholds; ``sms_health`` exits with the worst level; the view answers staff and a
bearer token only, in JSON and in Prometheus text with the same figures; and the alerts
fire once per crossing, not once per send."""

import datetime as dt
import json
import re
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from django_xunchen import signals
from django_xunchen.backends import locmem
from django_xunchen.client.types import Balance
from django_xunchen.models import Message, PollJournalEntry, PollState
from django_xunchen.operations import alerts
from django_xunchen.operations.monitoring import Level, run_checks
from django_xunchen.outcomes import spool

pytestmark = pytest.mark.django_db
TOKEN = "t" * 40
NOW = timezone.now()


def check(name, **where):
    found = [
        c
        for c in run_checks()
        if c.name == name and all(getattr(c, k) == v for k, v in where.items())
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def polled():
    """Both operations of the account fetched now: the polls are ok."""
    for operation in ("queryReport", "queryMo"):
        PollState.objects.create(account="default", operation=operation, last_success_at=NOW)


@pytest.fixture
def received():
    got = []

    def listen(sender, **kwargs):
        got.append(kwargs)

    for signal in (signals.low_balance, signals.health_alert):
        signal.connect(listen)
    yield got
    for signal in (signals.low_balance, signals.health_alert):
        signal.disconnect(listen)


def test_the_poll_age_warns_after_poll_max_age_and_is_critical_after_poll_critical(polled):
    where = {"account": "default", "operation": "queryReport"}
    with time_machine.travel(NOW + dt.timedelta(seconds=899)):
        assert check("poll_age", **where).level == Level.OK
    with time_machine.travel(NOW + dt.timedelta(seconds=901)):
        assert check("poll_age", **where).level == Level.WARNING
        assert "is poll_sms running?" in check("poll_age", **where).detail
    with time_machine.travel(NOW + dt.timedelta(seconds=3601)):
        assert check("poll_age", **where).level == Level.CRITICAL


def test_never_polled_is_critical():
    assert check("poll_age", operation="queryMo").level == Level.CRITICAL


def test_the_queue_s_oldest_due_row(settings):
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"QUEUE_WARNING": 60}}
    held = Message.objects.create(mobile="13800138000", content="x", status="queued")
    Message.objects.filter(pk=held.pk).update(
        created_at=NOW - dt.timedelta(hours=5), hold_until=NOW + dt.timedelta(hours=1)
    )
    assert check("queue_age").level == Level.OK, "held for later: not late"
    due = Message.objects.create(mobile="13900139000", content="x", status="queued")
    Message.objects.filter(pk=due.pk).update(created_at=NOW - dt.timedelta(seconds=61))
    assert check("queue_age").level == Level.WARNING
    Message.objects.filter(pk=due.pk).update(created_at=NOW - dt.timedelta(seconds=3601))
    assert check("queue_age").level == Level.CRITICAL and check("queue_age").value > 3600


def test_the_spools_and_the_journal():
    assert check("spool_outcomes_waiting").level == Level.OK
    spool.write({"kind": "outcome", "ids": [1]})
    assert check("spool_outcomes_waiting").level == Level.WARNING
    assert check("spool_outcomes_waiting").value == 1
    spool.set_aside(spool.pending()[0], "unreadable")
    assert check("spool_set_aside").level == Level.CRITICAL
    assert check("journal_set_aside").level == Level.OK
    PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"x", fetched_at=NOW, state="set_aside"
    )
    assert check("journal_set_aside").level == Level.CRITICAL


def test_tasks_waiting_for_a_worker(settings):
    from django_xunchen.tasks import send_messages

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"TASKS_WARNING": 1, "TASKS_CRITICAL": 2}}
    assert check("tasks_waiting").level == Level.OK
    send_messages.enqueue([1])
    assert check("tasks_waiting").level == Level.WARNING
    send_messages.enqueue([2])
    assert check("tasks_waiting").level == Level.CRITICAL


def test_the_balance_against_low_balance(settings, monkeypatch, received):
    settings.XUNCHEN = {**settings.XUNCHEN, "LOW_BALANCE": "100"}
    assert check("balance").level == Level.WARNING, "not read yet"
    alerts.check_balance("default")
    assert check("balance").level == Level.OK and check("balance").value == 1000
    monkeypatch.setattr(locmem, "balance", Balance(amount=Decimal("99"), messages=990))
    alerts.check_balance("default")
    assert check("balance").level == Level.WARNING
    monkeypatch.setattr(locmem, "balance", Balance(amount=Decimal("0.05"), messages=0))
    alerts.check_balance("default")
    assert check("balance").level == Level.CRITICAL, "cannot pay for one part"


def cron():
    """What cron runs every minute: the send_queued command, which checks the alerts."""
    call_command("send_queued", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_low_balance_fires_once_per_crossing_not_once_per_send(
    settings, monkeypatch, received, xunchen_outbox, caplog
):
    from django_xunchen import send_sms

    settings.XUNCHEN = {**settings.XUNCHEN, "LOW_BALANCE": "100", "HEALTH": {"BALANCE_EVERY": 0}}
    monkeypatch.setattr(locmem, "balance", Balance(amount=Decimal("50"), messages=500))
    for _ in range(3):
        send_sms(["13800138000"], "您好", background=False)
        cron()
    assert [r["balance"] for r in received] == [Decimal("50")]
    assert "below LOW_BALANCE" in caplog.text
    monkeypatch.setattr(locmem, "balance", Balance(amount=Decimal("500"), messages=5000))
    cron()
    monkeypatch.setattr(locmem, "balance", Balance(amount=Decimal("40"), messages=400))
    cron(), cron()
    assert [r["balance"] for r in received] == [Decimal("50"), Decimal("40")]


@pytest.mark.django_db(transaction=True)
def test_a_balance_is_read_at_most_once_per_balance_every(settings, monkeypatch):
    settings.XUNCHEN = {**settings.XUNCHEN, "LOW_BALANCE": "100"}
    reads = []
    real = locmem.SMSBackend.get_balance
    monkeypatch.setattr(
        locmem.SMSBackend, "get_balance", lambda self: reads.append(1) or real(self)
    )
    with time_machine.travel(NOW, tick=False):
        cron(), cron(), cron()
    with time_machine.travel(NOW + dt.timedelta(seconds=3601), tick=False):
        cron()
    assert len(reads) == 2


@pytest.mark.django_db(transaction=True)
def test_a_journal_entry_set_aside_alerts_once(received):
    PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"x", fetched_at=NOW, state="set_aside"
    )
    cron(), cron()
    assert [r["check"].name for r in received] == ["journal_set_aside"]
    PollJournalEntry.objects.update(state="done")
    cron()
    PollJournalEntry.objects.update(state="set_aside")
    cron()
    assert [r["check"].name for r in received] == ["journal_set_aside"] * 2


# ---------------------------------------------------------------- command and view


def run(*args):
    out = StringIO()
    try:
        call_command("sms_health", *args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue()


def test_the_command_exits_with_the_worst_level(polled):
    assert run()[0] == 0
    PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"x", fetched_at=NOW, state="set_aside"
    )
    code, out = run()
    assert code == 2 and re.search(r"^CRITICAL +journal_set_aside +1 ", out, re.M)
    PollJournalEntry.objects.all().delete()
    spool.write({"kind": "outcome", "ids": [1]})
    assert run()[0] == 1


PROMETHEUS_LINE = re.compile(
    r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[a-z_]+="(?:[^"\\\n]|\\.)*"'
    r'(?:,[a-z_]+="(?:[^"\\\n]|\\.)*")*)\})? (?P<value>-?[0-9.e+-]+)$'
)


def parse_prometheus(text: str) -> dict[tuple, float]:
    """The exposition format, strictly: HELP and TYPE comments, then samples."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = PROMETHEUS_LINE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        labels = tuple(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples


def test_json_and_prometheus_carry_the_same_figures(admin_client, polled):
    Message.objects.create(mobile="13800138000", content="x", status="queued")
    url = reverse("django_xunchen:health")
    with time_machine.travel(NOW + dt.timedelta(seconds=30), tick=False):
        report = json.loads(run("--json")[1])
        assert admin_client.get(url).json()["checks"] == report["checks"]
        answer = admin_client.get(url, {"format": "prometheus"})
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse_prometheus(answer.content.decode())
    assert samples[("xunchen_health_status", ())] == {"ok": 0, "warning": 1}[report["status"]]
    for item in report["checks"]:
        labels = [("check", item["name"])]
        labels += [(k, item[k]) for k in ("account", "operation") if item[k]]
        level = {"ok": 0, "warning": 1, "critical": 2}[item["level"]]
        assert samples[("xunchen_health_level", tuple(labels))] == level
        if item["value"] is not None:
            assert samples[("xunchen_health_value", tuple(labels))] == item["value"]


def test_the_view_refuses_anonymous_requests_and_wrong_tokens(client, settings):
    url = reverse("django_xunchen:health")
    assert client.get(url).status_code == 401
    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"TOKEN": TOKEN}}
    assert client.get(url, HTTP_AUTHORIZATION="Bearer " + "x" * 40).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION=TOKEN).status_code == 401
    answer = client.get(url, {"format": "prometheus"}, HTTP_AUTHORIZATION="Bearer " + TOKEN)
    assert answer.status_code == 200 and b"xunchen_health_status" in answer.content
    assert client.post(url, HTTP_AUTHORIZATION="Bearer " + TOKEN).status_code == 405


def test_staff_need_the_dashboard_permission(client):
    from tests.admin.conftest import _staff

    client.force_login(_staff("viewer", "view_message"))
    assert client.get(reverse("django_xunchen:health")).status_code == 401
    client.force_login(_staff("watcher", "view_dashboard"))
    assert client.get(reverse("django_xunchen:health")).status_code == 200


def test_strict_answers_503_when_critical(admin_client):
    url = reverse("django_xunchen:health")
    assert admin_client.get(url, {"strict": "1"}).status_code == 503, "never polled"


def test_a_short_token_is_refused_by_the_system_check(settings):
    from django_xunchen.operations.checks import check_settings

    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"TOKEN": "short"}}
    assert any("at least 32 characters" in e.msg for e in check_settings())


def run_poll_sms():
    call_command("poll_sms", "--force", stdout=StringIO())


def run_tick():
    from django_xunchen.tasks import tick

    tick.call()


def run_send_task():
    from django_xunchen.tasks import send_messages

    send_messages.call([])


ALERTING_PATHS = {
    "send_queued": cron,
    "poll_sms": run_poll_sms,
    "tick": run_tick,
    "send task": run_send_task,
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ALERTING_PATHS.values(), ids=ALERTING_PATHS.keys())
def test_each_unattended_path_checks_the_alerts(path, received):
    PollJournalEntry.objects.create(
        account="default", operation="queryReport", body=b"x", fetched_at=NOW, state="set_aside"
    )
    path()
    assert [r["check"].name for r in received] == ["journal_set_aside"]


def test_the_token_is_kept_out_of_error_reports_and_reprs(settings):
    from django.views.debug import SafeExceptionReporterFilter

    from django_xunchen.conf import health_settings

    settings.XUNCHEN = {**settings.XUNCHEN, "HEALTH": {"TOKEN": TOKEN}}
    safe = SafeExceptionReporterFilter().get_safe_settings()["XUNCHEN"]["HEALTH"]
    assert TOKEN not in str(safe)
    assert TOKEN not in repr(health_settings())
