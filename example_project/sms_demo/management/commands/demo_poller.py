"""For the demo only: poll every few seconds. In production, cron runs poll_sms."""

import time

from django.core.management.base import BaseCommand

from django_xunchen import poll, send_queued


class Command(BaseCommand):
    help = "Poll reports and replies, and send queued messages, every --interval seconds."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=5.0)

    def handle(self, *args, interval=5.0, **options):
        try:
            while True:
                result = poll(force=True)
                if result.reports or result.inbound or not result.ok:
                    self.stdout.write(f"poll: {result.summary()}")
                send_queued()
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
