from django.core.management.base import BaseCommand, CommandError

from ...polling import poll


class Command(BaseCommand):
    help = (
        "Fetch delivery reports and replies from the gateway into the database. "
        "Run it from cron every 3 minutes; overlapping runs are safe."
    )

    def add_arguments(self, parser):
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--reports-only", action="store_true", help="Fetch reports only.")
        only.add_argument("--inbound-only", action="store_true", help="Fetch replies only.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Fetch even if the last fetch was less than POLL_INTERVAL seconds ago.",
        )

    def handle(self, *args, reports_only=False, inbound_only=False, force=False, **options):
        result = poll(reports=not inbound_only, inbound=not reports_only, force=force)
        if result.locked_by:
            self.stdout.write(result.summary())
            return
        if not result.ok:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())
