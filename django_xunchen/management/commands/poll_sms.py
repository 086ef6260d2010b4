import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import ngettext

from ... import stopping
from ...client.parsing import MAX_QUERY_BODY_BYTES
from ...conf import UnknownAccount
from ...operations.alerts import watch
from ...operations.health import poll_health
from ...polling.fetch import import_answer
from ...polling.run import poll
from ...tasks import run_webhooks


class Command(BaseCommand):
    help = (
        "Fetch delivery reports and replies from the gateway into the database. "
        "Run it from cron every 3 minutes; overlapping runs are safe. Every gateway account "
        "is polled; the command exits 1 if any of them failed. With --check, fetch "
        "nothing: exit non-zero when the last successful fetch is older than POLL_MAX_AGE."
    )

    def add_arguments(self, parser):
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--reports-only", action="store_true", help="Fetch reports only.")
        only.add_argument("--inbound-only", action="store_true", help="Fetch replies only.")
        only.add_argument(
            "--check",
            action="store_true",
            help="Report poll health for monitoring; exit 1 when polling looks stopped.",
        )
        parser.add_argument(
            "--account",
            help="Poll only this account (default: every configured account).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Fetch even if the last fetch was less than POLL_INTERVAL seconds ago.",
        )
        only.add_argument(
            "--import-answer",
            metavar="FILE",
            help=(
                "Journal and ingest a raw queryReport or queryMo answer from FILE ('-' for "
                "standard input): one that the database and the disk both refused, copied "
                "from the CRITICAL log. Fetches nothing. Needs --operation."
            ),
        )
        parser.add_argument(
            "--operation",
            choices=["queryReport", "queryMo"],
            help="With --import-answer: which query the answer is of.",
        )

    def handle(
        self,
        *args,
        reports_only=False,
        inbound_only=False,
        check=False,
        force=False,
        account=None,
        **options,
    ):
        if check:
            return self.check_health()
        if options.get("import_answer"):
            return self.import_answer(options["import_answer"], options["operation"], account)
        with stopping.graceful():
            try:
                result = poll(
                    reports=not inbound_only,
                    inbound=not reports_only,
                    force=force,
                    account=account,
                )
            except UnknownAccount as exc:
                raise CommandError(str(exc)) from None
            watch()
            run_webhooks()
            stopped = stopping.exit_code()
        if stopped is not None:
            self.stderr.write(f"stopped by a signal: {result.summary()}")
            raise SystemExit(stopped)
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())

    def import_answer(self, path, operation, account):
        if not operation:
            raise CommandError("--import-answer needs --operation queryReport or queryMo")
        try:
            if path == "-":
                body = sys.stdin.buffer.read()
            else:
                with open(path, "rb") as handle:
                    # A bytes literal from the log writes a byte in up to 4 characters.
                    body = handle.read(4 * MAX_QUERY_BODY_BYTES + 8)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        try:
            entry = import_answer(body, operation, account or "default")
        except (ValueError, UnknownAccount) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"journaled as entry {entry.pk}")
        result = poll(reports=False, inbound=False, account=account)
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())

    def check_health(self):
        health = poll_health(count_overdue=True)
        now = timezone.now()
        several = len({account for account, _ in health.last_success}) > 1
        for (account, operation), last in health.last_success.items():
            age = "never" if last is None else f"{int((now - last).total_seconds())} s ago"
            name = f"{account} {operation}" if several else operation
            self.stdout.write(f"{name}: last successful fetch {age}")
        if health.set_aside:
            self.stdout.write(f"journal entries set aside: {health.set_aside}")
        if health.spooled:
            self.stdout.write(f"send outcomes waiting in the spool: {health.spooled}")
        if health.report_overdue:
            self.stdout.write(
                f"sent messages whose report can no longer come: {health.report_overdue}"
            )
        problems = list(health.stale)
        if health.spool_bad:
            problems.append(
                ngettext(
                    "%(count)d spool file could not be read or applied; the log says why",
                    "%(count)d spool files could not be read or applied; the log says why",
                    health.spool_bad,
                )
                % {"count": health.spool_bad}
            )
        if health.spool_problem:
            problems.append(health.spool_problem)
        if health.answers_waiting:
            problems.append(
                ngettext(
                    "%(count)d poll answer the database refused waits on disk; the next "
                    "poll_sms journals it",
                    "%(count)d poll answers the database refused wait on disk; the next "
                    "poll_sms journals them",
                    health.answers_waiting,
                )
                % {"count": health.answers_waiting}
            )
        if problems:
            raise CommandError("; ".join(problems))
        self.stdout.write("ok")
