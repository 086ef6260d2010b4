from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...health import poll_health
from ...polling import poll


class Command(BaseCommand):
    help = (
        "Fetch delivery reports and replies from the gateway into the database. "
        "Run it from cron every 3 minutes; overlapping runs are safe. With --check, fetch "
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
            "--force",
            action="store_true",
            help="Fetch even if the last fetch was less than POLL_INTERVAL seconds ago.",
        )

    def handle(
        self, *args, reports_only=False, inbound_only=False, check=False, force=False, **options
    ):
        if check:
            return self.check_health()
        result = poll(reports=not inbound_only, inbound=not reports_only, force=force)
        if result.locked_by:
            self.stdout.write(result.summary())
            return
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())

    def check_health(self):
        health = poll_health(count_overdue=True)
        now = timezone.now()
        for operation, last in health.last_success.items():
            age = "never" if last is None else f"{int((now - last).total_seconds())} s ago"
            self.stdout.write(f"{operation}: last successful fetch {age}")
        if health.set_aside:
            self.stdout.write(f"journal entries set aside: {health.set_aside}")
        if health.spooled:
            self.stdout.write(f"send outcomes waiting in the spool: {health.spooled}")
        if health.report_overdue:
            self.stdout.write(
                f"sent messages whose report can no longer come: {health.report_overdue}"
            )
        if not health.ok:
            raise CommandError("; ".join(health.stale))
        self.stdout.write("ok")
