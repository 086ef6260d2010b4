from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from ...consent.evidence import evidence_document
from ...exceptions import XunchenValidationError


class Command(BaseCommand):
    help = (
        "Print the consent evidence of one number: its consent history with the evidence "
        "of each entry, its suppression, and every marketing message written to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("mobile", help="The mobile number (+86, spaces and dashes are fine).")
        parser.add_argument(
            "--format", choices=["html", "json"], default="html", help="Default: html."
        )
        parser.add_argument("--output", help="Write to this file instead of standard output.")
        parser.add_argument(
            "--language",
            help="The language of the HTML document (e.g. zh-hans; default: LANGUAGE_CODE).",
        )

    def handle(self, *args, mobile, format, output=None, language=None, **options):
        try:
            document = evidence_document(mobile)
        except XunchenValidationError as exc:
            raise CommandError(str(exc)) from None
        if format == "json":
            text = document.as_json()
        else:
            with translation.override(language or translation.get_language()):
                text = document.as_html()
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(
                f"{document.mobile}: {len(document.entries)} consent entries, "
                f"{len(document.messages)} marketing messages written to {output}"
            )
        else:
            self.stdout.write(text)
