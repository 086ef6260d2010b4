import argparse

from django.core.management.base import BaseCommand

from ...sending import send_queued


class Command(BaseCommand):
    help = (
        "Send messages left queued (a send that could not reach the gateway), expire "
        "those past their expiry time, and mark rows stuck in 'sending' as 'unknown'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit",
            type=positive_int,
            default=10000,
            help="At most this many queued messages in this run (default 10000).",
        )
        parser.add_argument(
            "--idle-for",
            type=seconds,
            default=None,
            metavar="SECONDS",
            help=(
                "Leave a queued message alone until it has waited this long untouched, "
                "unless it was held and is now due: for a site whose task workers send "
                "its background sends (their tick passes 60)."
            ),
        )

    def handle(self, *args, limit=10000, idle_for=None, **options):
        counts = send_queued(limit=limit, idle_for=idle_for)
        self.stdout.write(
            "queued {claimed}, sent {sent} in {requests} requests, expired {expired}, "
            "stale marked unknown {stale}, spooled outcomes applied {spooled}".format(**counts)
        )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value
