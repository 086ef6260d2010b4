from django.core.management.base import BaseCommand

from ...operations import rollup
from .send_queued import positive_int


class Command(BaseCommand):
    help = (
        "Bring the dashboard's daily figures up to date (what every poll does), or with "
        "--rebuild recount them from the messages."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Forget the figures and recount them from the messages.",
        )
        parser.add_argument(
            "--days",
            type=positive_int,
            default=None,
            help="Only the last DAYS days (default: up to date, the last 30; with "
            "--rebuild, every day).",
        )

    def handle(self, *args, rebuild=False, days=None, **options):
        counted = rollup.rebuild(days) if rebuild else rollup.maintain(days=days or 30)
        self.stdout.write(f"recounted {counted} days")
