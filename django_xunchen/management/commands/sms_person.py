import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...exceptions import XunchenValidationError
from ...people.erase import erase_person
from ...people.export import export_person


class Command(BaseCommand):
    help = (
        "One person's data: 'export MOBILE' writes every row the app holds on the number "
        "(JSON, or a ZIP of CSV files); 'erase MOBILE' deletes or anonymises it, keeping "
        "its refusal (suppression entry, consent withdrawals) and a keyed record of the "
        "erasure."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "erase"])
        parser.add_argument("mobile", help="The mobile number (+86, spaces and dashes are fine).")
        parser.add_argument(
            "--format",
            choices=["json", "zip"],
            default="json",
            help="export: json, or zip (the JSON and a CSV file per table).",
        )
        parser.add_argument("--output", help="export: write to this file (required for zip).")

    def handle(self, *args, action, mobile, format="json", output=None, **options):
        try:
            if action == "export":
                self._export(mobile, format, output)
            else:
                self._erase(mobile)
        except XunchenValidationError as exc:
            raise CommandError(str(exc)) from None

    def _export(self, mobile, format, output):
        data = export_person(mobile)
        if format == "zip":
            if not output:
                raise CommandError("--format zip writes a file: give --output")
            Path(output).write_bytes(data.as_zip())
        elif output:
            Path(output).write_text(data.as_json() + "\n", encoding="utf-8")
        else:
            self.stdout.write(data.as_json())
        rows = sum(len(rows) for rows in data.tables.values())
        self.stderr.write(f"{rows} rows in {len(data.tables)} tables")

    def _erase(self, mobile):
        result = erase_person(mobile, by_name="manage.py sms_person")
        if not result.done:
            self.stderr.write(f"not erased yet: {result.waiting}; run it again later")
            sys.exit(3)
        for label, count in sorted(result.counts.items()):
            self.stdout.write(f"{label}\t{count}")
        self.stdout.write(f"erasure {result.erasure.pk}: {result.erasure.digest}")
