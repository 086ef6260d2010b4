"""Run by tests/polling/test_crash.py in a subprocess, on its own SQLite file:

    python -m tests.crash_poll setup 13800138000 13900000000   # migrate, send
    python -m tests.crash_poll poll-and-die                    # SIGKILL after the fetch
    python -m tests.crash_poll poll                            # an ordinary poll
    python -m tests.crash_poll send-and-die 13800138000 …      # SIGKILL once accepted
    python -m tests.crash_poll send-queued-later 3600          # send_queued an hour on
    python -m tests.crash_poll poll-sms-while-down             # PostgreSQL stops after
                                                               # the fetch ($XUNCHEN_STOP_DB)
    python -m tests.crash_poll state                           # print what is stored

Settings come from tests.settings, with DATABASE_URL and XUNCHEN_TEST_SETTINGS set by
the caller.
"""

import json
import os
import signal
import sys

import django


def main(argv: list[str]) -> None:
    django.setup()
    from django.core.management import call_command

    from django_xunchen import poll, send_sms
    from django_xunchen.models import Message, PollJournalEntry, Report

    command = argv[0]
    if command == "setup":
        call_command("migrate", verbosity=0)
        send_sms(argv[1:], "crash test")
    elif command == "poll-and-die":
        poll(inbound=False, force=True, backend=f"{__name__}.DieAfterFetch")
    elif command == "poll-sms-while-down":
        from django.core.management import CommandError

        try:
            call_command("poll_sms", "--force", "--reports-only")
        except CommandError as exc:
            print(json.dumps({"error": str(exc)}))
            sys.exit(1)
    elif command == "poll":
        result = poll(inbound=False, force=True)
        print(json.dumps({"ok": result.ok, "locked_by": result.locked_by}))
    elif command == "send-and-die":
        call_command("migrate", verbosity=0)
        send_sms(argv[1:], "killed once accepted", backend=f"{__name__}.DieAfterAccept")
    elif command == "send-queued-later":
        import datetime as dt

        import time_machine
        from django.utils import timezone

        from django_xunchen import send_queued

        later = timezone.now() + dt.timedelta(seconds=float(argv[1]))
        with time_machine.travel(later, tick=False):
            print(json.dumps(send_queued()))
    elif command == "state":
        entries = [
            {"state": e.state, "body_has_numbers": b"13800138000" in bytes(e.body)}
            for e in PollJournalEntry.objects.filter(operation="queryReport")
        ]
        print(
            json.dumps(
                {
                    "entries": entries,
                    "reports": Report.objects.count(),
                    "statuses": sorted(Message.objects.values_list("status", flat=True)),
                    "messages": sorted(Message.objects.values_list("status", "msgid")),
                    "requests": Message.objects.values("request").distinct().count(),
                }
            )
        )


def _die_after_fetch():
    from django_xunchen.backends.xunchen import SMSBackend

    class DieAfterFetch(SMSBackend):
        """The process is killed the moment it starts parsing what it fetched."""

        def scan_reports(self, raw):
            os.kill(os.getpid(), signal.SIGKILL)

    return DieAfterFetch


def _die_after_accept():
    from django_xunchen.backends.xunchen import SMSBackend

    class DieAfterAccept(SMSBackend):
        """The process is killed the moment the gateway's answer (its msgid) is in."""

        def send(self, request):
            super().send(request)
            os.kill(os.getpid(), signal.SIGKILL)

    return DieAfterAccept


def _stop_db_after_fetch():
    import subprocess

    from django_xunchen.backends.xunchen import SMSBackend

    class StopDatabaseAfterFetch(SMSBackend):
        """The database server stops between the fetch and the journal write."""

        def fetch_reports(self):
            raw = super().fetch_reports()
            subprocess.run(os.environ["XUNCHEN_STOP_DB"], shell=True, check=True)  # noqa: S602
            return raw

    return StopDatabaseAfterFetch


def __getattr__(name: str):
    if name == "DieAfterFetch":
        return _die_after_fetch()
    if name == "StopDatabaseAfterFetch":
        return _stop_db_after_fetch()
    if name == "DieAfterAccept":
        return _die_after_accept()
    raise AttributeError(name)


if __name__ == "__main__":
    main(sys.argv[1:])
