#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the sweep tests (Debian, run as root; idempotent).
#
#   eval "$(.ci/postgres.sh)"     # exports RECBENCH_TEST_POSTGRES_URL
#   .ci/postgres.sh stop          # stops the server
#
# The URL is also written to $RECBENCH_PG_ROOT/url. Trust authentication, loopback only: for tests.
set -euo pipefail

PORT="${RECBENCH_PG_PORT:-55432}"
ROOT="${RECBENCH_PG_ROOT:-/tmp/recbench-postgres}"
DB=recbench_test

if ! compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

# initdb and postgres refuse to run as root.
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
mkdir -p "$ROOT"
[ "$(id -u)" = 0 ] && chown postgres "$ROOT"

if [ "${1:-start}" = stop ]; then
  as_postgres "$BIN/pg_ctl" -D "$ROOT/data" -m fast stop >&2 || true
  exit 0
fi

if [ ! -f "$ROOT/data/PG_VERSION" ]; then
  as_postgres "$BIN/initdb" -D "$ROOT/data" -U postgres --auth=trust -E UTF8 >&2
fi
if ! as_postgres "$BIN/pg_ctl" -D "$ROOT/data" status >/dev/null 2>&1; then
  as_postgres "$BIN/pg_ctl" -D "$ROOT/data" -l "$ROOT/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $ROOT" start >&2
fi
psql_() { as_postgres "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -tAq "$@"; }
if [ "$(psql_ -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_ -c "CREATE DATABASE $DB"
fi

URL="postgresql://postgres@127.0.0.1:$PORT/$DB"
echo "$URL" > "$ROOT/url"
echo "export RECBENCH_TEST_POSTGRES_URL=$URL"
