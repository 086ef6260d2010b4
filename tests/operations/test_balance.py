"""The balance: ``sms_balance`` for one account or each of several, and its error."""

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from django_xunchen import get_balances

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sms_balance(gateway):
    assert run("sms_balance").strip() == "balance 5000 (50000 messages)"


def test_sms_balance_error(gateway):
    gateway.account.enabled = False
    with pytest.raises(CommandError, match="disabled"):
        run("sms_balance")


def test_balance_per_account(two_logins, capsys):
    two_logins.state.accounts["B"].balance = Decimal("12")
    balances = get_balances()
    assert list(balances) == ["default", "codes"]
    assert str(balances["codes"].amount) == "12"
    call_command("sms_balance")
    out = capsys.readouterr().out
    assert "default: balance 5000" in out and "codes: balance 12" in out
    two_logins.state.accounts["B"].enabled = False
    with pytest.raises(CommandError, match="codes"):
        call_command("sms_balance")
    call_command("sms_balance", "--account", "default")
