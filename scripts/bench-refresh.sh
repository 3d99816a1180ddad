#!/usr/bin/env bash
# Refresh-token rotations at POST /token (grant_type=refresh_token), measured with wrk on loopback,
# next to the database ceiling taken in the same run: pgbench running the same statements as one
# rotation (scripts/bench/rotation.sql) on tables of the same shape, with the same concurrency.
# Every request presents a different unused refresh token (seeded in PostgreSQL beforehand), so
# each one is a real rotation: a locked family, the token marked used, its successor inserted, the
# access token recorded, and an ES256 access token signed.
# Runs inside scripts/with-test-postgres.sh (libpq PG* variables set).
#
#   BENCH_DURATION=5 scripts/with-test-postgres.sh scripts/bench-refresh.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
duration=${BENCH_DURATION:-10}
threads=${BENCH_REFRESH_THREADS:-2}
connections=${BENCH_REFRESH_CONNECTIONS:-32}
families=${BENCH_REFRESH_FAMILIES:-150000}
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }
command -v pgbench >/dev/null || PATH="${TESSERA_TEST_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

work=$(mktemp -d /tmp/tessera-bench-refresh.XXXXXX)
chmod 755 "$work"
tessera_pid=
cleanup() { [ -n "$tessera_pid" ] && kill "$tessera_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
. "$here/scripts/bench/lib.sh"

export PGDATABASE=bench_refresh
psql -q -d postgres -c "DROP DATABASE IF EXISTS bench_refresh" -c "CREATE DATABASE bench_refresh"
echo "$(nproc) cores shared by wrk, Tessera and PostgreSQL; machine busy before start: $(busy)%"

port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/readyz"
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" clients create --id bench-refresh --type public --auth-method none \
    --grant-types "authorization_code refresh_token" --redirect-uris http://127.0.0.1/cb --scopes bench \
    --audiences https://api.bench.example >/dev/null
printf 'bench-password-0123\n' | TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" users create --username bench --password-stdin >/dev/null

# One family per request, each with its first token; the tokens go to a file for wrk.
# token = "tsr_" + base64url(32 bytes), as Tessera makes them; only its SHA-256 is stored.
echo "seeding $families refresh-token families"
psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE seed AS
    SELECT gen_random_uuid() AS family, 'tsr_' || rtrim(translate(encode(sha256((random()::text || i::text)::bytea), 'base64'), '+/', '-_'), '=') AS token
    FROM generate_series(1, $families) AS i;
INSERT INTO refresh_token_families (id, client_id, user_id, scopes, audiences, auth_time, expires_at)
    SELECT family, 'bench-refresh', (SELECT id FROM users WHERE username = 'bench'), '{bench}', '{https://api.bench.example}', now(), now() + interval '30 days' FROM seed;
INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
    SELECT sha256(token::bytea), family, 1, now() + interval '7 days' FROM seed;
\copy (SELECT token FROM seed) TO '$work/tokens.txt'
ANALYZE;
SQL

# Check one rotation by hand, then measure.
first=$(head -1 "$work/tokens.txt"); tail -n +2 "$work/tokens.txt" >"$work/tokens.run"
status=$(curl -sS -o "$work/check.json" -w '%{http_code}' -d grant_type=refresh_token -d client_id=bench-refresh -d "refresh_token=$first" "http://127.0.0.1:$port/token")
[ "$status" = 200 ] && grep -q '"refresh_token":"tsr_' "$work/check.json" || { cat "$work/check.json" >&2; echo "the check rotation failed ($status)" >&2; exit 1; }
BENCH_TOKENS="$work/tokens.run" BENCH_THREADS_TOTAL=$threads wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
    -s "$here/scripts/bench/refresh.lua" "http://127.0.0.1:$port/token" >"$work/wrk.txt" 2>&1
tessera_line=$(grep '^{"rps"' "$work/wrk.txt") || { cat "$work/wrk.txt" >&2; exit 1; }
echo "tessera peak RSS: $(peak_rss_mb "$tessera_pid") MiB"
result rss_peak_refresh_mb "$(peak_rss_mb "$tessera_pid")"
kill "$tessera_pid"; wait "$tessera_pid" 2>/dev/null || true; tessera_pid=

# The database ceiling: the same statements, same concurrency, same cluster, tables of the same shape.
psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE bench_families (id integer PRIMARY KEY, client_id text NOT NULL, scopes text[] NOT NULL, expires_at timestamptz NOT NULL, revoked_at timestamptz);
CREATE TABLE bench_refresh_tokens (token_sha256 bytea PRIMARY KEY, family_id integer NOT NULL, generation bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz NOT NULL, used_at timestamptz, UNIQUE (family_id, generation));
CREATE INDEX ON bench_refresh_tokens (expires_at);
CREATE TABLE bench_family_access_tokens (jti text PRIMARY KEY, family_id integer NOT NULL, expires_at timestamptz NOT NULL);
CREATE INDEX ON bench_family_access_tokens (family_id);
CREATE INDEX ON bench_family_access_tokens (expires_at);
CREATE SEQUENCE bench_generation START 2;
INSERT INTO bench_families SELECT i, 'bench-refresh', '{bench}', now() + interval '30 days' FROM generate_series(1, $families) AS i;
INSERT INTO bench_refresh_tokens (token_sha256, family_id, generation, expires_at)
    SELECT sha256(('t' || i)::bytea), i, 1, now() + interval '7 days' FROM generate_series(1, $families) AS i;
ANALYZE;
SQL
pgbench -n -c "$connections" -j "$threads" -T "$duration" -D "families=$families" -f "$here/scripts/bench/rotation.sql" >"$work/pgbench.txt" 2>&1 \
    || { cat "$work/pgbench.txt" >&2; exit 1; }
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.txt" | head -1)
echo "machine busy at the end: $(busy)%"

python3 - "$tessera_line" "$tps" "$threads" "$connections" "$duration" <<'PY'
import json, sys
line, tps, threads, connections, duration = sys.argv[1:]
r, tps = json.loads(line), float(tps)
print(f"\nrefresh rotations at POST /token (public client, ES256 access token), wrk -t{threads} -c{connections} -d{duration}s, loopback")
print(f"{'':<34}{'per s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
print(f"{'tessera refresh_token grant':<34}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['non2xx']:>9}")
print(f"{'pgbench, the same transaction':<34}{tps:>9.0f}")
if r["non2xx"] or r["socket_errors"]:
    sys.exit(f"INVALID RUN: {r['non2xx']} non-2xx, {r['socket_errors']} socket errors")
value = r["rps"] / tps
print(f"\n{'tessera rotations / pgbench transactions':<62}{value:>7.2f}  goal >= 0.8: {'met' if value >= 0.8 else 'missed'}")
PY
result refresh_rps "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"])' "$tessera_line")"
result refresh_pgbench_tps "$tps"
