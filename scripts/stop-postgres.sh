#!/usr/bin/env bash
# Stop the throwaway PostgreSQL that start-postgres.sh started (same PGDATA_DIR).
set -euo pipefail
data=${PGDATA_DIR:-/tmp/django-xunchen-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || exit 0
as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if as_postgres "'$bin/pg_ctl' -D '$data' status >/dev/null 2>&1"; then
  as_postgres "'$bin/pg_ctl' -D '$data' -m fast -w stop >/dev/null"
fi
