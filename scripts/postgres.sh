#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1, for the integration tests.
#
#   scripts/postgres.sh start   starts one in a new temporary directory, on a free port, and prints
#                               "PGPORT=<port> PGDIR=<dir>" on its last line of output
#   scripts/postgres.sh stop DIR stops it and deletes DIR
#
# Uses Debian's postgresql package, installing it with apt-get when it is missing and this runs as root.
# As root, the server runs as the postgres user. Fails with a message saying why when it cannot start.
set -euo pipefail

fail() { echo "postgres.sh: $*" >&2; exit 1; }

find_bin() {
  local name=$1 dir
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
  done
  return 1
}

ensure_installed() {
  if find_bin initdb >/dev/null && find_bin pg_ctl >/dev/null; then return; fi
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed (no initdb/pg_ctl) and installing it needs root"
  command -v apt-get >/dev/null || fail "PostgreSQL is not installed and apt-get is not available"
  echo "postgres.sh: installing Debian's postgresql package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || fail "apt-get update failed"
  apt-get install -y -qq postgresql >&2 || fail "apt-get install postgresql failed"
  find_bin initdb >/dev/null || fail "postgresql installed, but initdb is still not found"
}

# Runs a command as the server's user: postgres when we are root (the server refuses to run as root).
as_server() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || fail "running as root, but there is no postgres user to run the server as"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })'
}

start() {
  ensure_installed
  local initdb pg_ctl dir port
  initdb=$(find_bin initdb)
  pg_ctl=$(find_bin pg_ctl)
  dir=$(mktemp -d /tmp/loop-local-pg.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_server "$initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
    || fail "initdb failed: $(tail -5 "$dir/initdb.log")"
  port=$(free_port)
  as_server "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
    || fail "the server did not start: $(tail -5 "$dir/server.log" 2>/dev/null)"
  echo "PGPORT=$port PGDIR=$dir"
}

stop() {
  local dir=${1:?usage: postgres.sh stop DIR}
  [ -d "$dir/data" ] || fail "no server data directory in $dir"
  as_server "$(find_bin pg_ctl)" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) fail "usage: postgres.sh start | stop DIR" ;;
esac
