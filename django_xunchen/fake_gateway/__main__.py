"""``python -m django_xunchen.fake_gateway``: serve, or talk to a running fake gateway.

python -m django_xunchen.fake_gateway --port 8030 --template JSM40001-0001='验证码@1@'
python -m django_xunchen.fake_gateway --extra-account JSM40002:pw:key:106900000002
python -m django_xunchen.fake_gateway reply --port 8030 13800138000 退订 --extcode 0001
python -m django_xunchen.fake_gateway fault --port 8030 drop --method sendUtf8Msg
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import urllib.request
from decimal import Decimal
from urllib.parse import urlencode

from .server import FakeGateway
from .state import FAULT_KINDS, Account


def _serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m django_xunchen.fake_gateway",
        description="Serve a fake Xunchen SMS gateway. By default it accepts the login "
        "JSM40001, password 123456, communication key (very code) 453245: put these in "
        "XUNCHEN's USERNAME, PASSWORD and VERY_CODE, and http://127.0.0.1:8030 in BASE_URL. "
        "Subcommands 'reply' and 'fault' talk to a running one (see 'reply --help').",
    )
    p.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    p.add_argument("--port", type=int, default=8030, help="default: %(default)s")
    p.add_argument("--username", default="JSM40001", help="the login it accepts (%(default)s)")
    p.add_argument("--password", default="123456", help="its password (%(default)s)")
    p.add_argument(
        "--very-code", default="453245", help="its communication key, VERY_CODE (%(default)s)"
    )
    p.add_argument(
        "--balance", type=Decimal, default=Decimal("5000"), help="yuan (default %(default)s)"
    )
    p.add_argument("--sender", default="106905994140010", help="the account's sender number")
    p.add_argument("--allowed-ip", action="append", default=[], help="IP allow-list (repeat)")
    p.add_argument(
        "--extra-account",
        action="append",
        default=[],
        metavar="USERNAME:PASSWORD:VERY_CODE:SENDER",
        help="serve another login, with its own balance and queues (repeat)",
    )
    p.add_argument(
        "--template",
        action="append",
        default=[],
        metavar="ID=BODY",
        help="register a template on every account, e.g. JSM40001-0001='验证码@1@' (repeat)",
    )
    p.add_argument("--blocked-word", action="append", default=[], help="refuse with 110 (repeat)")
    p.add_argument(
        "--report-delay",
        type=float,
        default=5.0,
        help="seconds before a delivery report is ready (default 5)",
    )
    p.add_argument(
        "--failure-rate",
        type=float,
        default=0.0,
        help="share of numbers whose report is a failure, 0 to 1",
    )
    p.add_argument(
        "--undeliverable",
        action="append",
        default=[],
        help="a number whose report is always a failure (repeat)",
    )
    p.add_argument("--msgid-style", choices=("hex", "numeric"), default="hex")
    p.add_argument(
        "--gbk-responses",
        action="store_true",
        help="answer in GBK under a UTF-8 declaration, as some servers do",
    )
    p.add_argument(
        "--inject-reply",
        action="append",
        default=[],
        metavar="MOBILE:EXT:TEXT",
        help="queue a reply at start-up (EXT may be empty; repeat)",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def _control_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m django_xunchen.fake_gateway")
    sub = p.add_subparsers(dest="command", required=True)
    reply = sub.add_parser("reply", help="queue a reply (MO) in a running fake gateway")
    reply.add_argument("mobile")
    reply.add_argument("content")
    reply.add_argument("--extcode", default="")
    reply.add_argument("--username", default="", help="the account (default: the first)")
    fault = sub.add_parser("fault", help="inject a fault into a running fake gateway")
    fault.add_argument("kind", choices=FAULT_KINDS)
    fault.add_argument("--seconds", type=float, default=0.0)
    fault.add_argument("--method", default="")
    fault.add_argument("--before-processing", action="store_true")
    fault.add_argument("--times", type=int, default=1)
    sub.add_parser("deliver", help="make every pending delivery report due now")
    for cmd in sub.choices.values():
        cmd.add_argument("--host", default="127.0.0.1")
        cmd.add_argument("--port", type=int, default=8030)
    return p


def _control(argv: list[str]) -> int:
    args = _control_parser().parse_args(argv)
    if args.command == "reply":
        path, form = (
            "/fake/inbound",
            {
                "mobile": args.mobile,
                "content": args.content,
                "extcode": args.extcode,
                "username": args.username,
            },
        )
    elif args.command == "fault":
        path, form = (
            "/fake/faults",
            {
                "kind": args.kind,
                "seconds": args.seconds,
                "method": args.method,
                "after_processing": "0" if args.before_processing else "1",
                "times": args.times,
            },
        )
    else:
        path, form = "/fake/deliver", {}
    url = f"http://{args.host}:{args.port}{path}"
    data = urlencode(form).encode()
    with urllib.request.urlopen(url, data=data, timeout=10) as response:
        print(json.dumps(json.loads(response.read()), ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("reply", "fault", "deliver"):
        return _control(argv)
    args = _serve_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    templates = {}
    for item in args.template:
        template_id, sep, body = item.partition("=")
        if not sep:
            raise SystemExit(f"--template takes ID=BODY, not {item!r}")
        templates[template_id] = body
    account = Account(
        username=args.username,
        password=args.password,
        very_code=args.very_code,
        balance=args.balance,
        sender=args.sender,
        allowed_ips=tuple(args.allowed_ip),
        templates=templates,
    )
    accounts = [account]
    for item in args.extra_account:
        fields = item.split(":")
        if len(fields) != 4 or not all(fields):
            raise SystemExit(
                f"--extra-account takes USERNAME:PASSWORD:VERY_CODE:SENDER, not {item!r}"
            )
        username, password, very_code, sender = fields
        accounts.append(
            Account(
                username=username,
                password=password,
                very_code=very_code,
                balance=args.balance,
                sender=sender,
                templates=dict(templates),
            )
        )
    gateway = FakeGateway(
        args.host,
        args.port,
        accounts=accounts,
        report_delay=args.report_delay,
        failure_rate=args.failure_rate,
        undeliverable=args.undeliverable,
        blocked_words=args.blocked_word,
        msgid_style=args.msgid_style,
        response_encoding="gbk" if args.gbk_responses else "utf-8",
        seed=args.seed,
    )
    for item in args.inject_reply:
        mobile, _, rest = item.partition(":")
        extcode, _, text = rest.partition(":")
        gateway.inject_reply(mobile, text, extcode)
    print(
        f"Fake Xunchen gateway on http://{args.host}:{args.port} "
        f"(accounts {', '.join(a.username for a in accounts)}); Ctrl-C to stop.",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        gateway.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
