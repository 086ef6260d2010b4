"""`make demo`: the example project on SQLite with the fake gateway, a poller, a task
worker (django-tasks-db) and runserver.

Ctrl-C stops all of it. Running it again is fine: migrations, the admin user and the
template are created only when missing. Ports: DEMO_PORT (8000), DEMO_GATEWAY_PORT (8030).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
PORT = int(os.environ.get("DEMO_PORT", "8000"))
GATEWAY_PORT = int(os.environ.get("DEMO_GATEWAY_PORT", "8030"))
USERNAME = os.environ.get("DEMO_USERNAME", "admin")
PASSWORD = os.environ.get("DEMO_PASSWORD", "admin")
TEMPLATE = "JSM40001-0001=尊敬的@1@,您的验证码为@2@，5分钟内有效，请勿告知他人。"
UNDELIVERABLE = "13900000000"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _stop(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    # A shell that starts us in the background leaves SIGINT ignored; Ctrl-C and SIGTERM
    # (a process manager, `kill`) must both stop the demo cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "XUNCHEN_BASE_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
    }
    py = sys.executable
    manage = [py, "manage.py"]
    for port in (PORT, GATEWAY_PORT):
        if not port_free(port):
            print(
                f"Port {port} is in use (another demo running?). Set DEMO_PORT or "
                "DEMO_GATEWAY_PORT to use others.",
                file=sys.stderr,
            )
            return 1
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=EXAMPLE, env=env, check=True)
    subprocess.run(
        [
            *manage,
            "seed_demo",
            "--username",
            USERNAME,
            "--password",
            PASSWORD,
            "--template",
            TEMPLATE,
            "--webhook-url",
            f"http://127.0.0.1:{PORT}/demo/webhooks/",
        ],
        cwd=EXAMPLE,
        env=env,
        check=True,
    )
    commands = {
        "gateway": [
            py,
            "-m",
            "django_xunchen.fake_gateway",
            "--port",
            str(GATEWAY_PORT),
            "--report-delay",
            "3",
            "--template",
            TEMPLATE,
            "--undeliverable",
            UNDELIVERABLE,
            "--extra-account",
            "JSM40002:654321:112233:106905994140020",
        ],
        "poller": [*manage, "demo_poller", "--interval", "5"],
        "worker": [*manage, "db_worker", "--queue-name", "*", "--no-reload"],
        "web": [*manage, "runserver", "--noreload", f"127.0.0.1:{PORT}"],
    }
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, command in commands.items():
            procs[name] = subprocess.Popen(command, cwd=EXAMPLE, env=env)
            time.sleep(0.5)
        print(
            f"""
==============================================================================
 django-xunchen demo
   Admin:          http://127.0.0.1:{PORT}/admin/    user {USERNAME!r}, password {PASSWORD!r}
   Fake gateway:   http://127.0.0.1:{GATEWAY_PORT}  (reports after 3 s; {UNDELIVERABLE} never
                   receives); the poller fetches every 5 s. Two accounts: "default"
                   (JSM40001: notices, marketing) and "codes" (JSM40002: verification).
   Task worker:    sends campaigns and background sends (django-tasks-db, SQLite),
                   and every event to the demo's webhook receiver (/demo/webhooks/):
                   Admin › Webhook deliveries.
   Send a reply:   {py} -m django_xunchen.fake_gateway reply --port {GATEWAY_PORT} \\
                       13800138000 退订
 Ctrl-C stops everything.
==============================================================================
""",
            flush=True,
        )
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"The {name} process stopped (exit {proc.returncode}).", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping the demo…", flush=True)
        return 0
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
