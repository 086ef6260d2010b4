"""``manage.py sms_webhooks``: hand out the recorded webhook events and send the due
deliveries (``poll_sms``, ``send_queued`` and the tick do it too)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ... import stopping
from ...webhooks import delivery


class Command(BaseCommand):
    help = (
        "Deliver the webhook events that are due: new events to their endpoints, and the "
        "retries whose time came. Runs until nothing is due, or once with --once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="one batch (XUNCHEN['WEBHOOKS']['BATCH'] deliveries), even if more are due",
        )

    def handle(self, *args, once: bool = False, **options):
        total = delivery.RunResult()
        with stopping.graceful():
            while True:
                result = delivery.run()
                for name in ("handed_out", "delivered", "failed", "gave_up", "disabled"):
                    setattr(total, name, getattr(total, name) + getattr(result, name))
                if once or not result.more or stopping.exit_code() is not None:
                    break
            stopped = stopping.exit_code()
        self.stdout.write(total.summary())
        if stopped is not None:
            raise SystemExit(stopped)
