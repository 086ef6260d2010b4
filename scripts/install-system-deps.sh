#!/usr/bin/env bash
# Install what the test suite needs from Debian, if missing: PostgreSQL, Redis (the RQ
# task engine), Chromium (the browser test), CJK fonts (readable Chinese screenshots),
# gettext (compilemessages), make.
# Needs root and apt-get; prints what it could not do otherwise.
set -euo pipefail
missing=()
command -v make >/dev/null || missing+=(make)
command -v msgfmt >/dev/null || missing+=(gettext)
command -v chromium >/dev/null || missing+=(chromium)
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "not installed (needs root and apt-get): ${missing[*]}" >&2
  exit 0
fi
echo "installing from Debian: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
