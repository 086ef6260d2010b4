import sys

from django.core.management.base import BaseCommand

from ...conf import account_names, xunchen_settings
from ...operations.alerts import check_balance
from ...operations.monitoring import as_json, run_checks, worst


class Command(BaseCommand):
    help = (
        "Print one line per health check (polls, spools, journal, queue, tasks, "
        "balances) and exit 0 when all are ok, 1 on a warning, 2 when one is critical."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--balance",
            action="store_true",
            help="Read the balance of each account with a LOW_BALANCE from the gateway "
            "first (else the last one read after a send or poll is used).",
        )

    def handle(self, *args, json=False, balance=False, **options):
        if balance:
            for account in account_names():
                if xunchen_settings(account)["LOW_BALANCE"] is not None:
                    check_balance(account)
        checks = run_checks()
        if json:
            self.stdout.write(as_json(checks))
        else:
            for check in checks:
                where = "/".join(p for p in (check.account, check.operation) if p)
                value = "-" if check.value is None else f"{check.value:g}"
                name = f"{check.name}[{where}]" if where else check.name
                self.stdout.write(f"{check.level.name:<8} {name:<32} {value:>10}  {check.detail}")
        code = int(worst(checks))
        if code:
            sys.exit(code)
