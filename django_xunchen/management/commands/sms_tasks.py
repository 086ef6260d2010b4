from django.core.management.base import BaseCommand, CommandError

from ... import tasks


class Command(BaseCommand):
    help = (
        "Background sending on Django Tasks: --start starts the tick chain (send_queued "
        "and poll every TICK_SECONDS, run by the task workers) unless it is running; run "
        "it on deploy when workers replace cron. --tick runs one tick here."
    )

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--start", action="store_true", help="Start the tick chain.")
        what.add_argument("--tick", action="store_true", help="Run one tick in this process.")

    def handle(self, *args, start=False, tick=False, **options):
        if tasks.task is None:
            raise CommandError(tasks.NO_ENGINE)
        can_defer, ensure_ticking, tick_task = tasks.can_defer, tasks.ensure_ticking, tasks.tick
        if tick:
            result = tick_task.call()
            self.stdout.write(
                "sent {sent} in {requests} requests, expired {expired}, stale {stale}; "
                "poll: {poll}".format(**result)
            )
            if not result["poll_ok"]:
                raise CommandError("the poll failed")
            return
        if not can_defer():
            raise CommandError(
                "the task backend runs tasks at once (no run_after): use cron for "
                "send_queued and poll_sms instead"
            )
        if ensure_ticking():
            self.stdout.write("tick chain started")
        else:
            self.stdout.write("tick chain already running")
