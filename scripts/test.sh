#!/usr/bin/env bash
# Everything CI checks. Run through `make test`, which creates .venv from the lock first.
# Every step runs, even after one failed; the run ends with a table (step, result, tests,
# time) and a closing line "N passed, M failed". It exits 1 if a gating step failed or did
# not run; `latest` is reported but does not gate.
#   XUNCHEN_REQUIRE_POSTGRES=1  fail instead of NOT RUN when PostgreSQL cannot be started
#   XUNCHEN_REQUIRE_BROWSER=1   fail instead of skipping when Chromium is missing
#   XUNCHEN_NO_SKIPS=1          any skipped test is a failure, and so is a missing Python
#                               of the matrix (CI sets it)
#   XUNCHEN_KEEP_POSTGRES=1     leave the PostgreSQL this script started running
#   XUNCHEN_SKIP_MATRIX=1       leave out the three nox steps (they are then NOT RUN, and
#                               the run exits 1)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
export PYTHONPATH=$PWD
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/xunchen-test.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT
NOT_RUN=77 # a step's exit status for "could not run here"; its reason is in $reason_file

steps=() results=() tests=() times=() gating=() notes=()
sum_passed=0 sum_failed=0 exit_status=0

# The tests a step ran, from pytest's closing lines in its log ("4 failed, 602 passed in
# 79.70s"), summed over every pytest run of the step (nox runs several): "passed failed
# skipped", errors counted as failed.
count_tests() {
  grep -E '^=* ?(no tests ran|[0-9]+ (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)(, [0-9]+ [a-z]+)*) in [0-9.]+s( \([0-9:]+\))?( =*)?$' "$1" |
    awk '{
      for (i = 1; i < NF; i++) {
        n = $i + 0; w = $(i + 1); sub(/,$/, "", w)
        if (w == "passed") p += n
        else if (w == "failed" || w == "error" || w == "errors") f += n
        else if (w == "skipped") s += n
      }
    } END { printf "%d %d %d\n", p, f, s }'
}

# run_step NAME GATING COMMAND...: runs COMMAND, shows its output and keeps it, and
# records the step's row. COMMAND exits 0 (passed), $NOT_RUN (NOT RUN, with the reason
# written to $reason_file) or anything else (failed).
run_step() {
  local name=$1 gate=$2 log status started
  shift 2
  printf '\n== %s\n' "$name"
  log="$LOGS/${#steps[@]}.log"
  reason_file="$LOGS/${#steps[@]}.reason"
  : >"$reason_file"
  started=$SECONDS
  "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  record "$name" "$gate" "$status" "$log" $((SECONDS - started))
}

# record NAME GATING STATUS LOG SECONDS
record() {
  local name=$1 gate=$2 status=$3 log=$4 seconds=$5 result passed failed skipped count=""
  read -r passed failed skipped < <(count_tests "$log")
  if [ "$status" = "$NOT_RUN" ]; then
    result="NOT RUN"
    notes+=("$name: NOT RUN: $(head -c 300 "$reason_file" | tr '\n' ' ' | sed 's/ *$//')")
  elif [ "$status" = 0 ] && grep -q '^nox > Session .* skipped: ' "$log"; then
    # nox without --error-on-missing-interpreters skips a session whose Python is missing.
    status=$NOT_RUN
    result="NOT RUN (part)"
    while read -r line; do
      notes+=("$name: NOT RUN: ${line#nox > Session }")
    done < <(grep '^nox > Session .* skipped: ' "$log")
  elif [ "$status" = 0 ]; then
    result=passed
  else
    result=failed
  fi
  if [ $((passed + failed + skipped)) -gt 0 ]; then
    count="$passed passed, $failed failed"
    [ "$skipped" -gt 0 ] && count+=", $skipped skipped"
  fi
  if [ "$gate" = gating ]; then
    sum_passed=$((sum_passed + passed))
    sum_failed=$((sum_failed + failed))
    if [ "$status" != 0 ]; then
      exit_status=1
      # A gating step that failed or did not run without a failing test of its own (ruff,
      # the docs, no PostgreSQL) counts as one failure in the closing line.
      [ "$failed" -gt 0 ] || sum_failed=$((sum_failed + 1))
    fi
  elif [ "$status" != 0 ]; then
    result="$result (not gating)"
  fi
  steps+=("$name") results+=("$result") tests+=("$count") times+=("$seconds")
}

# The nox steps run one after the other in a lane of their own, beside the steps of make
# test's own environment: each side runs one pytest at a time, and the machine has two
# cores. lane_step NAME GATING COMMAND... runs COMMAND in the lane, its output kept in its
# log; finish_lane waits for the lane, then shows each lane step's output and records it.
lane=()
lane_step() {
  local name=$1 gate=$2 index=${#lane[@]}
  shift 2
  lane+=("$name|$gate")
  printf '\n== %s (runs in the background; its output follows at the end)\n' "$name"
  # Each step waits for the one before it in the lane.
  (
    [ "$index" -gt 0 ] && while [ ! -e "$LOGS/lane$((index - 1)).status" ]; do sleep 1; done
    reason_file="$LOGS/lane$index.reason"
    : >"$reason_file"
    started=$SECONDS
    "$@" >"$LOGS/lane$index.log" 2>&1
    echo "$? $((SECONDS - started))" >"$LOGS/lane$index.status.tmp"
    mv "$LOGS/lane$index.status.tmp" "$LOGS/lane$index.status"
  ) &
}

finish_lane() {
  local index name gate status seconds
  wait
  for index in "${!lane[@]}"; do
    IFS='|' read -r name gate <<<"${lane[$index]}"
    read -r status seconds <"$LOGS/lane$index.status"
    printf '\n== %s (ran in the background)\n' "$name"
    cat "$LOGS/lane$index.log"
    reason_file="$LOGS/lane$index.reason"
    record "$name" "$gate" "$status" "$LOGS/lane$index.log" "$seconds"
  done
}

# Steps that are more than one command.
ruff_step() {
  local status=0
  "$BIN/ruff" check . || status=1
  "$BIN/ruff" format --check . || status=1
  return $status
}

# Every test that reads or writes the database: all but the protocol client's, the backend
# contract's and the project's own (packaging, docs, demo), which need none.
DATABASE_TESTS=(
  tests/sending tests/dispatch tests/outcomes tests/polling tests/verification tests/policy
  tests/campaigns tests/operations tests/background tests/models tests/consent tests/people
  tests/analytics tests/webhooks tests/httpapi
  tests/project/test_testing_helpers.py tests/admin
)

postgres_step() {
  local url status=0
  if ! url=$(bash scripts/start-postgres.sh 2>"$LOGS/pg.err"); then
    cat "$LOGS/pg.err"
    if [ "${XUNCHEN_REQUIRE_POSTGRES:-}" = 1 ]; then
      echo "PostgreSQL is required (XUNCHEN_REQUIRE_POSTGRES=1)"
      return 1
    fi
    tail -n 1 "$LOGS/pg.err" >"$reason_file"
    return $NOT_RUN
  fi
  # The admin's doors (a permission check per URL and action, a third of the SQLite
  # step's time) read no SQL of their own: they run on SQLite only.
  # The journeys in Chromium drive the same views the test client does: SQLite's step runs
  # them.
  DATABASE_URL=$url "$BIN/python" -m pytest "${DATABASE_TESTS[@]}" -p no:cacheprovider \
    --ignore=tests/admin/test_admin_doors.py -m "not browser" || status=$?
  if [ "${XUNCHEN_KEEP_POSTGRES:-}" = 1 ]; then
    echo "PostgreSQL left running at $url (XUNCHEN_KEEP_POSTGRES=1); stop it with scripts/stop-postgres.sh"
  else
    bash scripts/stop-postgres.sh && echo "PostgreSQL stopped (set XUNCHEN_KEEP_POSTGRES=1 to keep it)"
  fi
  return $status
}

nox_step() {
  if [ "${XUNCHEN_SKIP_MATRIX:-}" = 1 ]; then
    echo "XUNCHEN_SKIP_MATRIX=1" >"$reason_file"
    return $NOT_RUN
  fi
  if [ "${CI:-}" = true ] || [ "${XUNCHEN_NO_SKIPS:-}" = 1 ]; then
    "$BIN/nox" --error-on-missing-interpreters "$@"
  else
    "$BIN/nox" --no-error-on-missing-interpreters "$@"
  fi
}

run_step "system packages" gating bash scripts/install-system-deps.sh
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
  notes+=("the admin journey in Chromium is skipped: no Chromium (apt-get install chromium)")
run_step "ruff" gating ruff_step
run_step "types (the Django-free protocol layer)" gating \
  "$BIN/mypy" --ignore-missing-imports django_xunchen/client django_xunchen/exceptions.py \
  django_xunchen/fake_gateway
run_step "translations compiled" gating \
  bash -c 'cd django_xunchen && "$0" compilemessages -v 0' "$BIN/django-admin"
run_step "migrations" gating \
  env DJANGO_SETTINGS_MODULE=tests.settings "$BIN/django-admin" makemigrations --check --dry-run
lane_step "locked: the oldest and newest pair (nox)" gating nox_step
lane_step "oldest: lower bounds, Python 3.10 (nox -s oldest)" gating nox_step -s oldest
lane_step "latest: newest releases (nox -s latest)" not-gating nox_step -s latest
run_step "tests on SQLite (random order)" gating "$BIN/python" -m pytest -m "not postgres_only"
run_step "tests on PostgreSQL (random order)" gating postgres_step
run_step "docs" gating "$BIN/sphinx-build" -W --keep-going -q -b html docs docs/_build/html
finish_lane

echo
printf '%-50s %-20s %-36s %6s\n' step result tests time
printf '%.0s-' {1..115}
echo
for i in "${!steps[@]}"; do
  printf '%-50s %-20s %-36s %5ss\n' "${steps[$i]}" "${results[$i]}" "${tests[$i]}" "${times[$i]}"
done
echo
for note in "${notes[@]}"; do
  echo "!! $note"
done
if [ "$exit_status" = 0 ]; then
  echo "every gating step passed"
else
  echo "!! a gating step failed or did not run: see the table above"
fi
# The closing line, in pytest's words: the tests of the gating steps.
echo "$sum_passed passed, $sum_failed failed"
exit "$exit_status"
