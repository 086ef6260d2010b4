#!/usr/bin/env bash
# Everything CI checks. Run through `make test`, which creates .venv first.
#   XUNCHEN_REQUIRE_POSTGRES=1  fail instead of skipping when PostgreSQL cannot be started
#   XUNCHEN_REQUIRE_BROWSER=1   fail instead of skipping when Chromium is missing
#   XUNCHEN_NO_SKIPS=1          any skipped test is a failure (CI sets it)
#   XUNCHEN_KEEP_POSTGRES=1     leave the PostgreSQL this script started running
#   XUNCHEN_SKIP_MATRIX=1       leave out the nox version matrix
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
export PYTHONPATH=$PWD
step() { printf '\n== %s\n' "$*"; }
not_run=()

step "system packages"
bash scripts/install-system-deps.sh
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
  not_run+=("the admin journey in Chromium (apt-get install chromium)")

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

step "tests on SQLite (random order)"
"$BIN/python" -m pytest -m "not postgres_only"

step "tests on PostgreSQL (random order)"
if url=$(bash scripts/start-postgres.sh 2>/tmp/django-xunchen-pg.err); then
  status=0
  DATABASE_URL=$url "$BIN/python" -m pytest tests/app tests/admin -p no:cacheprovider || status=$?
  if [ "${XUNCHEN_KEEP_POSTGRES:-}" = 1 ]; then
    echo "PostgreSQL left running at $url (XUNCHEN_KEEP_POSTGRES=1); stop it with scripts/stop-postgres.sh"
  else
    bash scripts/stop-postgres.sh && echo "PostgreSQL stopped (set XUNCHEN_KEEP_POSTGRES=1 to keep it)"
  fi
  [ "$status" = 0 ] || exit "$status"
elif [ "${XUNCHEN_REQUIRE_POSTGRES:-}" = 1 ]; then
  cat /tmp/django-xunchen-pg.err >&2
  exit 1
else
  not_run+=("the PostgreSQL tests: $(cat /tmp/django-xunchen-pg.err)")
fi

step "docs"
"$BIN/sphinx-build" -W --keep-going -q -b html docs docs/_build/html

if [ "${XUNCHEN_SKIP_MATRIX:-}" != 1 ]; then
  step "version matrix (nox: the whole suite on the oldest and the newest pair)"
  if [ "${CI:-}" = true ] || [ "${XUNCHEN_NO_SKIPS:-}" = 1 ]; then
    "$BIN/nox" --error-on-missing-interpreters
  else
    "$BIN/nox" --no-error-on-missing-interpreters
  fi
else
  not_run+=("the version matrix (XUNCHEN_SKIP_MATRIX=1)")
fi

echo
if [ ${#not_run[@]} -gt 0 ]; then
  printf '!! NOT RUN on this machine:\n'
  printf '!!   - %s\n' "${not_run[@]}"
  printf '!! Everything else passed. CI runs all of it.\n'
else
  echo "all checks passed"
fi
