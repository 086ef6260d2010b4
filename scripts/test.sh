#!/usr/bin/env bash
# Everything CI checks. Run through `make test`, which creates .venv first.
#   XUNCHEN_REQUIRE_POSTGRES=1  fail instead of skipping when PostgreSQL cannot be started
#   XUNCHEN_REQUIRE_BROWSER=1   fail instead of skipping when Chromium is missing
#   XUNCHEN_SKIP_MATRIX=1       leave out the nox version matrix
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export PYTHONPATH=$PWD
step() { printf '\n== %s\n' "$*"; }

step "system packages"
bash scripts/install-system-deps.sh

step "ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .

step "types (the Django-free protocol layer)"
"$BIN/mypy" --ignore-missing-imports django_xunchen/client django_xunchen/exceptions.py \
  django_xunchen/fake_gateway

step "translations compiled"
(cd django_xunchen && "../$BIN/django-admin" compilemessages -v 0)

step "migrations"
DJANGO_SETTINGS_MODULE=tests.settings "$BIN/django-admin" makemigrations --check --dry-run

step "tests on SQLite"
"$BIN/python" -m pytest

step "tests on PostgreSQL"
if url=$(bash scripts/start-postgres.sh 2>/tmp/django-xunchen-pg.err); then
  DATABASE_URL=$url "$BIN/python" -m pytest tests/app tests/admin -p no:cacheprovider
elif [ "${XUNCHEN_REQUIRE_POSTGRES:-}" = 1 ]; then
  cat /tmp/django-xunchen-pg.err >&2
  exit 1
else
  echo "skipped: PostgreSQL is not available ($(cat /tmp/django-xunchen-pg.err))"
fi

step "docs"
"$BIN/sphinx-build" -W --keep-going -q -b html docs docs/_build/html

if [ "${XUNCHEN_SKIP_MATRIX:-}" != 1 ]; then
  step "version matrix (nox)"
  "$BIN/nox" --no-error-on-missing-interpreters
fi
echo
echo "all checks passed"
