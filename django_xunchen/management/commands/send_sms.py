from django.core.management.base import BaseCommand, CommandError

from ...exceptions import XunchenError
from ...sending.send import send_sms


class Command(BaseCommand):
    help = "Send an SMS: --to NUMBER... (--content TEXT | --template ID --param N=VALUE...)"

    def add_arguments(self, parser):
        parser.add_argument(
            "--to",
            action="append",
            required=True,
            metavar="NUMBER",
            help="A mobile number, or several separated by commas (repeat).",
        )
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--content", help="The text of a normal message.")
        what.add_argument("--template", help="The vendor template id of a Template.")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="N=VALUE",
            help="A template parameter: 1=张三 fills @1@ (repeat).",
        )
        parser.add_argument("--extcode", help="1 to 4 digits appended to the sender number.")
        parser.add_argument(
            "--kind",
            default="notification",
            choices=["verification", "notification", "marketing"],
            help="The kind of message; it picks the account by XUNCHEN['ROUTES'].",
        )
        parser.add_argument("--account", help="Send on this account instead of the routed one.")

    def handle(
        self,
        *args,
        to,
        content=None,
        template=None,
        param=(),
        extcode=None,
        kind="notification",
        account=None,
        **options,
    ):
        params = {}
        for item in param:
            key, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--param takes N=VALUE, not {item!r}")
            params[key.strip()] = value
        if params and not template:
            raise CommandError("--param is only used with --template")
        try:
            messages = send_sms(
                ",".join(to),
                content,
                template=template,
                params=params or None,
                extcode=extcode,
                kind=kind,
                account=account,
            )
        except XunchenError as exc:
            raise CommandError(str(exc)) from None
        for message in messages:
            self.stdout.write(f"{message.mobile}\t{message.status}\t{message.msgid}")
