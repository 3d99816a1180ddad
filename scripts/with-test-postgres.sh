#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster in a temporary directory.
#
#   scripts/with-test-postgres.sh COMMAND [ARGS...]
#
# The cluster listens on a Unix socket only (no TCP port to collide with), is owned
# by the `postgres` user when run as root (PostgreSQL refuses to run as root), and
# is removed afterwards whatever the command's outcome. The command sees libpq's own
# PGHOST/PGPORT/PGUSER/PGDATABASE variables, plus TESSERA_TEST_PGDATA and
# TESSERA_TEST_PGBIN so that tests can stop and restart the server.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/postgres-env.sh"

tmp=$(mktemp -d /tmp/tessera-pg.XXXXXX)
chmod 755 "$tmp"
pgdata="$tmp/data"
sock="$tmp/sock"
mkdir -p "$sock"
if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$tmp"; fi

cleanup() {
    as_pg_owner "$PGBIN/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

as_pg_owner "$PGBIN/initdb" -D "$pgdata" -U postgres -A trust --no-sync -E UTF8 >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log"; exit 1; }
as_pg_owner "$PGBIN/pg_ctl" -D "$pgdata" -l "$tmp/server.log" -w -t 60 start \
    -o "-c listen_addresses='' -c unix_socket_directories='$sock' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { cat "$tmp/server.log"; exit 1; }

export PGHOST="$sock" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
export TESSERA_TEST_PGDATA="$pgdata" TESSERA_TEST_PGBIN="$PGBIN" TESSERA_TEST_PGSOCK="$sock"
export TESSERA_TEST_PGLOG="$tmp/server.log"
set +e
"$@"
status=$?
set -e
exit $status
