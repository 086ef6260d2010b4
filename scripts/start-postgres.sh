#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:${PGPORT:-54329} for the test suite and print
# its DATABASE_URL. Needs Debian's postgresql package (run as root: it uses the postgres user).
set -euo pipefail
port=${PGPORT:-54329}
data=${PGDATA_DIR:-/tmp/django-xunchen-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}
if [ ! -f "$data/PG_VERSION" ]; then
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  as_postgres "'$bin/initdb' -D '$data' -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null"
fi
if ! as_postgres "'$bin/pg_ctl' -D '$data' status >/dev/null 2>&1"; then
  as_postgres "'$bin/pg_ctl' -D '$data' -l '$data/server.log' -w \
    -o \"-p $port -k /tmp -h 127.0.0.1 -F -c synchronous_commit=off -c full_page_writes=off\" start >/dev/null"
fi
echo "postgres://postgres@127.0.0.1:$port/xunchen"
