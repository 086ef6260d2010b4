"""The version matrix: Django 5.2 LTS on Python 3.10 and 3.11, Django 6.x on 3.12 and 3.13.

``nox`` runs the whole suite (browser, packaging and demo tests included; the PostgreSQL
step is make test's) on the oldest and the newest pair, as CI does; ``nox -s tests`` runs
all four. An interpreter missing on this machine is reported and skipped, or fails the run
with ``--error-on-missing-interpreters`` (CI). pyenv installs are found even when they are
not on PATH.
"""

import os
from pathlib import Path

import nox

PAIRS = [("3.10", "5.2"), ("3.11", "5.2"), ("3.12", "6"), ("3.13", "6")]
DJANGO = {"5.2": "django>=5.2,<5.3", "6": "django>=6.0,<7"}

pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
if pyenv.is_dir():
    extra = [str(p / "bin") for p in sorted(pyenv.iterdir()) if (p / "bin").is_dir()]
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), *extra])

nox.options.sessions = ["tests(3.10-5.2)", "tests(3.13-6)"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True


@nox.session
@nox.parametrize(("python", "django"), PAIRS, ids=[f"{p}-{d}" for p, d in PAIRS])
def tests(session: nox.Session, django: str) -> None:
    session.install(DJANGO[django], "-e", ".[test,spreadsheets,tasks]")
    session.run("python", "-c", "import django; print('Django', django.get_version())")
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not postgres_only",
        *session.posargs,
        env={"PYTHONPATH": str(Path.cwd())},
    )
