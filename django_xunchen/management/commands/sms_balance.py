from django.core.management.base import BaseCommand, CommandError

from ...api import get_balances
from ...conf import account_names


class Command(BaseCommand):
    help = (
        "Show each gateway account's balance and how many messages it buys. Exits 1 if "
        "any account's balance could not be read."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", help="Only this account.")

    def handle(self, *args, account=None, **options):
        names = account_names()
        if account is not None and account not in names:
            raise CommandError(f"no SMS account {account!r}; configured: " + ", ".join(names))
        found = get_balances(only=account)
        failed = []
        for name, balance in found.items():
            prefix = f"{name}: " if len(names) > 1 else ""
            if isinstance(balance, Exception):
                failed.append(f"{prefix}{balance}")
                self.stderr.write(f"{prefix}{balance}")
            else:
                self.stdout.write(f"{prefix}balance {balance.amount} ({balance.messages} messages)")
        if failed:
            raise CommandError("; ".join(failed))
