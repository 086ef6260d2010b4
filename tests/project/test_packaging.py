"""The sdist and wheel carry everything, and the wheel works in a clean virtualenv."""

import json
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from ..conftest import skip_unless_required

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging

WHEEL_MUST_HAVE = [
    "django_xunchen/__init__.py",
    "django_xunchen/py.typed",
    "django_xunchen/migrations/0001_initial.py",
    "django_xunchen/templates/admin/django_xunchen/message/send.html",
    "django_xunchen/templates/admin/django_xunchen/message/dashboard.html",
    "django_xunchen/static/django_xunchen/admin.css",
    "django_xunchen/locale/zh_Hans/LC_MESSAGES/django.mo",
    "django_xunchen/locale/zh_Hans/LC_MESSAGES/django.po",
    "django_xunchen/fake_gateway/__main__.py",
    "django_xunchen/integrations/allauth.py",
    "django_xunchen/integrations/two_factor.py",
    "django_xunchen/integrations/otp/migrations/0001_initial.py",
]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    try:
        import build  # noqa: F401
    except ImportError:
        skip_unless_required(
            "the build package is not installed (pip install build)", "XUNCHEN_REQUIRE_PACKAGING"
        )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def test_wheel_contents(dist):
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(n for n in names if n.endswith("METADATA"))
        text = archive.read(metadata).decode()
    missing = [n for n in WHEEL_MUST_HAVE if n not in names]
    assert not missing
    assert not any(n.startswith(("tests/", "example_project/")) for n in names)
    for line in [
        "Requires-Python: >=3.10",
        "Requires-Dist: django>=5.2",
        "Requires-Dist: lxml",
        "Requires-Dist: django-admin-rangefilter",
        "Classifier: Framework :: Django :: 5.2",
        "License-Expression: MIT",
    ]:
        assert line in text


def test_sdist_contents(dist):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for name in [
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "tests/settings.py",
        "docs/index.rst",
        "example_project/manage.py",
        *WHEEL_MUST_HAVE,
    ]:
        assert name in names, name


def test_wheel_installs_and_runs_the_example_project(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(wheel), "django-environ"],
        check=True,
        capture_output=True,
    )
    project = tmp_path / "example_project"
    shutil.copytree(
        ROOT / "example_project",
        project,
        ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__", ".env"),
    )
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    def run(*args):
        return subprocess.run(
            [str(python), *args], cwd=project, env=env, check=True, capture_output=True, text=True
        ).stdout

    location = run("-c", "import django_xunchen; print(django_xunchen.__file__)")
    assert location.startswith(str(env_dir)), "imported from the wheel, not the checkout"
    assert "no issues" in run("manage.py", "check")
    assert "Applying django_xunchen.0001_initial... OK" in run("manage.py", "migrate")
    zh = run(
        "-c",
        "import django_xunchen, pathlib; p = pathlib.Path(django_xunchen.__file__)"
        ".parent / 'locale/zh_Hans/LC_MESSAGES/django.mo'; print(p.stat().st_size)",
    )
    assert int(zh) > 1000


#: What ``pip install django-xunchen`` brings, and no more: the integrations' packages come
#: only with their extras.
CORE_INSTALL = {
    "asgiref",
    "certifi",
    "charset-normalizer",
    "django",
    "django-admin-rangefilter",
    "django-xunchen",
    "idna",
    "lxml",
    "requests",
    "sqlparse",
    "urllib3",
}
EXTRAS = {
    "phonenumber-field": {"django-phonenumber-field", "phonenumbers"},
    "allauth": {"django-allauth"},
    "two-factor": {
        "django-two-factor-auth",
        "django-otp",
        "django-phonenumber-field",
        "phonenumbers",
    },
    "otp": {"django-otp"},
}


def resolve(wheel: Path, extras: str, tmp_path: Path) -> set[str]:
    """The distributions pip would install for ``wheel[extras]`` on a clean machine (this
    Python, Linux), with every version held to the lock's, so that the answer does not
    depend on the day."""
    constraints = tmp_path / "constraints.txt"
    lines = (ROOT / "requirements/locked.txt").read_text().splitlines()
    pins = [line.split(" \\")[0] for line in lines if "==" in line and not line.startswith("#")]
    constraints.write_text("\n".join(pins) + "\n")
    report = tmp_path / f"report-{extras or 'core'}.json"
    target = f"{wheel}[{extras}]" if extras else str(wheel)
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q"]
    subprocess.run(
        [*pip, "--report", str(report), "-c", str(constraints), target],
        check=True,
        capture_output=True,
        text=True,
    )
    installs = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower().replace("_", "-") for item in installs}


def test_the_core_install_stays_small_and_each_extra_installs_alone_and_together(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    core = resolve(wheel, "", tmp_path)
    assert core - {"tzdata", "typing-extensions"} == CORE_INSTALL
    for extra, brings in EXTRAS.items():
        alone = resolve(wheel, extra, tmp_path)
        assert brings <= alone, (extra, brings - alone)
        other = set().union(*(b for e, b in EXTRAS.items() if e != extra)) - brings
        assert not (alone & other), (extra, alone & other)
    together = resolve(wheel, ",".join(EXTRAS), tmp_path)
    assert set().union(*EXTRAS.values()) <= together
