"""``manage.py sms_number_facts``: fill or refresh each message's carrier and province."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ...analytics import numbers
from ...analytics.refresh import BATCH_SIZE, refresh


class Command(BaseCommand):
    help = (
        "Derive each message's carrier and province (by allocation) from its number again, "
        "in batches: after an upgrade, or after the phonenumbers data were updated."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"rows per transaction (default {BATCH_SIZE})",
        )
        parser.add_argument(
            "--only-unknown",
            action="store_true",
            help="only the rows whose carrier or province is unknown",
        )

    def handle(self, *args, batch_size: int, only_unknown: bool, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if not numbers.available():
            raise CommandError(
                "the phonenumbers package is not installed: pip install 'django-xunchen[analytics]'"
            )
        verbosity = options["verbosity"]

        def progress(seen: int, changed: int) -> None:
            if verbosity > 1:
                self.stdout.write(f"{seen} rows read, {changed} changed")

        changed = refresh(batch_size=batch_size, only_unknown=only_unknown, progress=progress)
        self.stdout.write(f"{changed} messages changed (phonenumbers {numbers.data_version()})")
