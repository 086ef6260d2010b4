from django.core.management.base import BaseCommand, CommandError

from ...api import get_balance
from ...exceptions import XunchenError


class Command(BaseCommand):
    help = "Show the gateway account's balance and how many messages it buys."

    def handle(self, *args, **options):
        try:
            balance = get_balance()
        except XunchenError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"balance {balance.amount} ({balance.messages} messages)")
