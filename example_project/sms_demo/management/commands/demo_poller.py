"""For the demo only: poll every few seconds. In production, cron runs poll_sms."""

import time

from django.core.management.base import BaseCommand

from django_xunchen import poll, send_queued, stopping
from django_xunchen.conf import xunchen_settings
from django_xunchen.operations.alerts import watch
from django_xunchen.tasks import can_defer


class Command(BaseCommand):
    help = "Poll reports and replies, and send queued messages, every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args, interval=5.0, **options):
        # Ctrl-C or the demo's SIGTERM: the poll or send in flight finishes and releases
        # its lock, then the loop ends.
        with stopping.graceful():
            while not stopping.requested():
                result = poll(force=True)
                if result.reports or result.inbound or not result.ok:
                    self.stdout.write(f"poll: {result.summary()}")
                # With the task worker, rows written in the last ORPHANED_AFTER seconds are
                # its to send.
                orphaned_after = float(xunchen_settings()["ORPHANED_AFTER"])
                send_queued(idle_for=orphaned_after if can_defer() else None)
                watch()  # as cron's commands do: a low balance, files set aside
                for _ in range(int(interval * 10)):
                    if stopping.requested():
                        break
                    time.sleep(0.1)
