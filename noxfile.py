"""Three dependency sets, each a nox session (see docs/testing.rst):

``locked``
    The version matrix from the lock, ``requirements/locked.txt`` (what ``make test``
    installs too): Django 5.2 LTS on Python 3.10 and 3.11, Django 6.x on 3.12 and 3.13,
    the whole suite (browser and demo tests included; the PostgreSQL step and the
    packaging tests are make test's), but for what the Django 5.2 pairs leave to make
    test's main step (``SAME_DJANGO_AS_MAIN_STEP``). ``nox`` runs the oldest and the
    newest pair, as CI does; ``nox -s locked`` runs all four.
``oldest``
    Python 3.10 with every direct dependency at its declared lower bound
    (``requirements/oldest.txt``): the client, parsing, polling and sending tests, and
    the integrations against the oldest release of each package. Gates.
``latest``
    The newest Python with everything at its newest release, no lock: the same tests.
    ``make test`` reports it but does not gate on it, so that a new upstream release shows
    up as a named failure without stopping a landing.

An interpreter missing on this machine is reported and skipped, or fails the run with
``--error-on-missing-interpreters`` (CI). pyenv installs are found even when they are not
on PATH.
"""

import os
from pathlib import Path

import nox

PAIRS = [("3.10", "5.2"), ("3.11", "5.2"), ("3.12", "6"), ("3.13", "6")]
LOCK = "requirements/locked.txt"
OLDEST_LOCK = "requirements/oldest.txt"
#: ``latest`` installs the integrations' packages at their newest, but for
#: django-two-factor-auth, which holds django-phonenumber-field below 9: without it, the
#: newest django-phonenumber-field is the one tested (two-factor's newest release is the
#: lock's).
EXTRAS = ".[test,spreadsheets,tasks,phonenumber-field,allauth,otp]"
LATEST_WITHOUT = [
    "--ignore=tests/integrations/test_installed.py",
    "--ignore=tests/integrations/test_two_factor.py",
    "--ignore=tests/integrations/test_two_factor_browser.py",
]
#: What ``oldest`` and ``latest`` run: the protocol client and parsing, polling (with
#: its health), sending and ``send_queued``, and the spool. The files that hold the tests
#: of the earlier selection (``test_polling*``, ``test_poll_*``, ``test_sending*``,
#: ``test_send_queued``, ``test_spool``), no more: the whole suite runs on the lock.
CORE_TESTS = [
    "tests/client",
    *(
        f"tests/polling/test_{name}.py"
        for name in [
            "poll",
            "accounts",
            "matching",
            "bookkeeping",
            "cut_answers",
            "database_restart",
            "faults",
            "refused_journal",
        ]
    ),
    "tests/operations/test_health.py",
    *(
        f"tests/sending/test_{name}.py"
        for name in ["send_sms", "send_sms_over_http", "resend", "own_rows", "bad_input"]
    ),
    *(
        f"tests/dispatch/test_{name}.py"
        for name in ["send_queued", "send_queued_arguments", "requests", "fallback"]
    ),
    "tests/policy/test_per_account_policy.py",
    "tests/outcomes/test_spool.py",
    # Each integration against its package's oldest release (oldest) and newest (latest);
    # the lock's releases run in the whole suite.
    "tests/integrations",
]

pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
if pyenv.is_dir():
    extra = [str(p / "bin") for p in sorted(pyenv.iterdir()) if (p / "bin").is_dir()]
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *extra])

nox.options.sessions = ["locked(3.10-5.2)", "locked(3.13-6)"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True


def install_lock(session: nox.Session, lock: str) -> None:
    """Exactly the lock's versions and hashes, then the project itself without its
    dependencies; pip check fails the session if the lock misses one."""
    session.install("--require-hashes", "-r", lock)
    session.install("--no-deps", "-e", ".")
    session.run("python", "-m", "pip", "check")


#: What the Django 5.2 pairs leave out: the main step of ``make test`` runs it on Django
#: 5.2 already, and it does not depend on the Python version (the admin's doors: a
#: permission check of every URL and action; the journeys in Chromium; the demo's
#: processes): four minutes of CI.
SAME_DJANGO_AS_MAIN_STEP = ["--ignore=tests/admin/test_admin_doors.py"]
SAME_DJANGO_MARKERS = " and not browser and not demo"
#: What no locked pair runs: the packaging tests (a wheel built, installed in a clean
#: virtualenv, the README's snippet in a new project, the extras resolved) run once, in
#: make test's main step; a pure-Python wheel is the same for every Python, and each pair
#: installs the lock, every extra included, itself. Three minutes of CI.
LOCKED_MARKERS = " and not packaging"


def pytest(
    session: nox.Session, *paths: str, extra: tuple[str, ...] = (), markers: str = ""
) -> None:
    versions = "print('Django', django.get_version(), 'lxml', lxml.etree.__version__)"
    session.run("python", "-c", f"import django, lxml.etree; {versions}")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not postgres_only and not main_step_only" + markers,
        *extra,
        *(session.posargs or paths),
        env={"PYTHONPATH": str(Path.cwd())},
    )


@nox.session
@nox.parametrize(("python", "django"), PAIRS, ids=[f"{p}-{d}" for p, d in PAIRS])
def locked(session: nox.Session, django: str) -> None:
    install_lock(session, LOCK)
    # The lock forks on the Python version; each pair must get its own Django.
    session.run(
        "python",
        "-c",
        f"import django, sys; sys.exit(django.get_version().split('.')[0] != '{django[0]}')",
    )
    if django == "5.2":
        pytest(
            session,
            extra=tuple(SAME_DJANGO_AS_MAIN_STEP),
            markers=SAME_DJANGO_MARKERS + LOCKED_MARKERS,
        )
    else:
        pytest(session, markers=LOCKED_MARKERS)


@nox.session(python=PAIRS[0][0])
def oldest(session: nox.Session) -> None:
    install_lock(session, OLDEST_LOCK)
    pytest(session, *CORE_TESTS)


@nox.session(python=PAIRS[-1][0])
def latest(session: nox.Session) -> None:
    session.install("--upgrade", "--upgrade-strategy", "eager", "pip")
    session.install("--upgrade", "--upgrade-strategy", "eager", "-e", EXTRAS)
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    pytest(session, *CORE_TESTS, extra=tuple(LATEST_WITHOUT))
