"""Benchmarks against the protocol's floor, baseline and ours measured in the same run.

    python benchmarks/run.py [--sizes 100,1000,10000]     (DATABASE_URL picks the database)

Sending N numbers: the floor is ⌈N/100⌉ requests, which the bare protocol client achieves
by submitting pre-chunked requests with no bookkeeping; ours is send_sms(), which also
writes a row per number and records every outcome. Polling N reports: the floor is one
queryReport and a parse; ours also journals, stores, matches and updates statuses.
Everything runs against the fake gateway on loopback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'benchmarks' / 'bench.sqlite3'}")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402

from django_xunchen import poll, send_sms  # noqa: E402
from django_xunchen.client import XunchenClient  # noqa: E402
from django_xunchen.fake_gateway import FakeGateway  # noqa: E402
from django_xunchen.models import Message  # noqa: E402


def numbers(n: int, prefix: str) -> list[str]:
    return [f"{prefix}{i:08d}" for i in range(n)]


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench(n: int) -> list[tuple[str, str, str, str]]:
    rows = []
    with FakeGateway(seed=1) as gateway:
        gateway.account.balance *= 1000
        conf = {
            **gateway.account_settings(),
            "POLL_INTERVAL": 0,
            # One request at a time, as the floor posts them; no balance request first.
            "CONCURRENCY": 1,
            "BALANCE_CHECK_ABOVE": None,
        }
        floor = math.ceil(n / 100)
        with XunchenClient(gateway.base_url, *gateway.credentials) as client:
            chunks = [numbers(n, "137")[i : i + 100] for i in range(0, n, 100)]
            _, raw_send = timed(lambda: [client.send(c, "基准测试") for c in chunks])
            _, raw_poll = timed(client.query_reports)
        base_requests = len(gateway.requests)
        with override_settings(XUNCHEN=conf):
            with CaptureQueriesContext(connection) as queries:
                _, our_send = timed(lambda: send_sms(numbers(n, "138"), "基准测试"))
            our_requests = len(gateway.requests) - base_requests
            result, our_poll = timed(lambda: poll(inbound=False, force=True))
        assert result.reports_matched == n, result.summary()
        rows.append((f"send {n} numbers: requests", f"{floor}", f"{our_requests}", ""))
        rows.append(
            (
                f"send {n} numbers: seconds",
                f"{raw_send:.3f}",
                f"{our_send:.3f}",
                f"{our_send / raw_send:.2f}x",
            )
        )
        rows.append(
            (
                f"send {n} numbers: DB queries",
                "0",
                f"{len(queries)}",
                f"{len(queries) / floor:.1f}/request",
            )
        )
        rows.append(
            (
                f"poll {n} reports: seconds",
                f"{raw_poll:.3f}",
                f"{our_poll:.3f}",
                f"{our_poll / raw_poll:.2f}x",
            )
        )
    return rows


def bench_latency(n: int = 10000, latency: float = 0.05, workers: int = 8):
    """Sending ``n`` numbers when each request takes ``latency`` seconds at the gateway:
    ours with ``CONCURRENCY=workers`` against ``workers`` bare connections posting the
    same pre-chunked requests in parallel (goal: at most 1.5x). SQLite sends one request
    at a time, so this row means something on PostgreSQL."""
    import threading

    requests = math.ceil(n / 100)
    with FakeGateway(seed=3) as gateway:
        gateway.account.balance *= 1000
        chunks = [numbers(n, "135")[i : i + 100] for i in range(0, n, 100)]
        gateway.inject_fault("latency", seconds=latency, times=2 * requests + 10)

        def post(share):
            with XunchenClient(gateway.base_url, *gateway.credentials) as client:
                for chunk in share:
                    client.send(chunk, "基准测试")

        threads = [
            threading.Thread(target=post, args=(chunks[i::workers],)) for i in range(workers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        floor = time.perf_counter() - started
        conf = {
            **gateway.account_settings(),
            "CONCURRENCY": workers,
            "BALANCE_CHECK_ABOVE": None,
        }
        with override_settings(XUNCHEN=conf):
            _, ours = timed(lambda: send_sms(numbers(n, "134"), "基准测试"))
    return [
        (
            f"send {n} at {latency * 1000:.0f} ms, {workers} at once: seconds (goal <= 1.5x)",
            f"{floor:.3f}",
            f"{ours:.3f}",
            f"{ours / floor:.2f}x",
        )
    ]


def bench_codes(rounds: int = 50) -> list[tuple[str, str, str, str]]:
    """A verification code: queries besides the send against the budget (request_code 6,
    check_code 3), and time against the bare client sending the same SMS, one client per
    code as a web request would."""
    from django_xunchen.verification import check_code, request_code

    with FakeGateway(seed=2) as gateway:
        conf = {
            **gateway.account_settings(),
            "VERIFICATION": {"COOLDOWN": 0, "PREFIX_LIMIT": 10**6, "IP_PER_HOUR": 10**6},
        }
        targets = numbers(rounds, "136")

        def bare(mobile: str) -> None:
            with XunchenClient(gateway.base_url, *gateway.credentials) as client:
                client.send(mobile, "您的验证码是123456")

        _, raw = timed(lambda: [bare(m) for m in targets])
        with override_settings(XUNCHEN=conf):
            with CaptureQueriesContext(connection) as requested:
                _, ours = timed(lambda: [request_code(m, ip="192.0.2.1") for m in targets])
            with CaptureQueriesContext(connection) as checked:
                _, checking = timed(lambda: [check_code(m, "000000") for m in targets])

    def ours_only(queries):
        control = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")
        sql = [q["sql"] for q in queries if not q["sql"].startswith(control)]
        return [q for q in sql if "django_xunchen_message" not in q]

    per_request = len(ours_only(requested.captured_queries)) / rounds
    per_check = len(ours_only(checked.captured_queries)) / rounds
    return [
        ("request_code: DB queries besides the send", "6 (budget)", f"{per_request:.1f}", ""),
        ("check_code: DB queries", "3 (budget)", f"{per_check:.1f}", ""),
        (
            "request_code: ms per code",
            f"{raw / rounds * 1000:.1f}",
            f"{ours / rounds * 1000:.1f}",
            f"{ours / raw:.2f}x",
        ),
        ("check_code: ms per check", "", f"{checking / rounds * 1000:.1f}", ""),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument(
        "--latency",
        type=int,
        default=10000,
        help="numbers for the 50 ms latency row (0: leave it out)",
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    Message.objects.all().delete()
    table = [("measure", "floor (baseline)", "django-xunchen", "ratio")]
    for size in (int(s) for s in args.sizes.split(",")):
        table.extend(bench(size))
    if args.latency:
        table.extend(bench_latency(args.latency))
    table.extend(bench_codes())
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    print(f"database: {connection.vendor}")
    for index, row in enumerate(table):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
