from django.core.management.base import BaseCommand

from ...operations.retention import BATCH_SIZE, WHAT, ages, prune
from .send_queued import positive_int


class Command(BaseCommand):
    help = (
        "Delete rows older than XUNCHEN['RETENTION'] says (messages with their reports and "
        "replies, finished campaigns, verification records, throttle events) and ingested "
        "poll journal entries older than JOURNAL_RETENTION_DAYS, in short batches."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            action="append",
            choices=WHAT,
            help="Prune only this (repeat); default: all.",
        )
        parser.add_argument(
            "--batch-size",
            type=positive_int,
            default=BATCH_SIZE,
            help=f"Rows per batch, each its own transaction (default {BATCH_SIZE}).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args, only=None, batch_size=BATCH_SIZE, dry_run=False, **options):
        kept = ", ".join(f"{what} {days} days" for what, days in ages().items() if days)
        forever = [what for what, days in ages().items() if not days]
        self.stdout.write(
            f"keeping {kept}" + (f"; {', '.join(forever)} for ever" if forever else "")
        )
        result = prune(only=tuple(only or WHAT), batch_size=batch_size, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        if not result.counts:
            self.stdout.write(f"{verb} nothing")
        for label, n in result.counts.items():
            self.stdout.write(f"{verb} {n} {label}")
