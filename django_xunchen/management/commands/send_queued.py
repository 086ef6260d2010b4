import argparse
from collections.abc import Callable

from django.core.management.base import BaseCommand

from ... import stopping
from ...campaigns import checking
from ...dispatch.queue import send_queued
from ...operations.alerts import watch
from ...tasks import run_webhooks


class Command(BaseCommand):
    help = (
        "Send messages left queued (a send that could not reach the gateway), expire "
        "those past their expiry time, and mark rows stuck in 'sending' as 'unknown'. "
        "Then check the campaign files waiting for a check that no task is doing."
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
            type=whole_number(0, "seconds"),
            default=None,
            metavar="SECONDS",
            help=(
                "Leave a queued message alone until it has waited this long untouched, "
                "unless it was held and is now due: for a site whose task workers send "
                "its background sends (their tick passes 60)."
            ),
        )

    def handle(self, *args, limit=10000, idle_for=None, **options):
        with stopping.graceful():
            counts = send_queued(limit=limit, idle_for=idle_for)
            watch()
            run_webhooks()
            stopped = stopping.exit_code()
            if stopped is None:
                counts["checked"] = checking.check_waiting()
                stopped = stopping.exit_code()
        self.stdout.write(
            "queued {claimed}, sent {sent} in {requests} requests, expired {expired}, "
            "stale marked unknown {stale}, spooled outcomes applied {spooled}".format(**counts)
        )
        if counts["campaigns_started"] or counts["campaigns_finished"]:
            self.stdout.write(
                "campaigns started {campaigns_started}, finished {campaigns_finished}".format(
                    **counts
                )
            )
        if counts.get("checked"):
            self.stdout.write("campaign files checked {checked}".format(**counts))
        if stopped is not None:
            self.stderr.write("stopped by a signal; what was not sent stays queued")
            raise SystemExit(stopped)


def whole_number(minimum: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number (of ``unit``) of at least ``minimum``."""
    what = f"whole number of {unit}" if unit else "whole number"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {what}: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


#: What --limit and the other counts take (the other commands import it).
positive_int = whole_number(1)
