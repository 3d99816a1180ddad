#!/usr/bin/env bash
# The server's memory: its peak resident set (VmHWM) after a load of /healthz, opaque introspection
# and ES256 client_credentials (wrk -t2 -c64 each), and its resident set (VmRSS) while it holds
# BENCH_IDLE_CONNECTIONS (default 10,000) idle keep-alive connections, each having made one request.
# Goals (issue 14): under 64 MB under load, under 256 MB with 10,000 idle connections.
# The per-source connection cap is lifted (all connections come from 127.0.0.1) and the descriptor
# limit raised as needed. Runs inside scripts/with-test-postgres.sh.
#
#   BENCH_DURATION=5 scripts/with-test-postgres.sh scripts/bench-memory.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
duration=${BENCH_DURATION:-10}
idle=${BENCH_IDLE_CONNECTIONS:-10000}
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }

. "$here/scripts/bench/lib.sh"
bench_scratch memory

# Descriptors for the idle connections on both ends (client and server are children of this shell).
needed=$((idle + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$needed" ]; then
    ulimit -n "$needed" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$needed" ] \
    || { echo "the descriptor limit ($(ulimit -n), hard $(ulimit -Hn)) is below $needed: raise it (ulimit -n) and run again" >&2; exit 1; }

echo "$(nproc) cores; machine busy before start: $(busy)%"
port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_MAX_CONNECTIONS_PER_SOURCE=0 TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" \
    --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/readyz"
create() {  # create ID ARGS...: prints the new client's secret
    local id=$1; shift
    TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" clients create --id "$id" --grant-types client_credentials --scopes bench \
        --audiences https://api.bench.example --auth-method client_secret_basic --json "$@" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'
}
es256_secret=$(create bench-es256 --token-format jwt --signing-alg ES256)
opaque_secret=$(create bench-opaque --token-format opaque --signing-alg ES256)
rs_auth=$(basic bench-rs "$(create bench-rs --introspect-audiences https://api.bench.example)")
opaque_token=$(curl -fsS -u "bench-opaque:$opaque_secret" -d grant_type=client_credentials "http://127.0.0.1:$port/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# One request per client first: each verifies its secret once (Argon2id), later ones hit the cache.
curl -fsS -o /dev/null -H "Authorization: Basic $rs_auth" -d "token=$opaque_token" "http://127.0.0.1:$port/introspect"
curl -fsS -o /dev/null -u "bench-es256:$es256_secret" -d grant_type=client_credentials "http://127.0.0.1:$port/token"
started_rss=$(rss_mb "$tessera_pid")

# load NAME URL [LUA]: wrk -t2 -c64; fails on any non-2xx answer or socket error.
load() {
    local name=$1 url=$2 script=${3:-$here/scripts/bench/report.lua} line
    wrk -t2 -c64 -d"${duration}s" -s "$script" "$url" >"$work/wrk.txt" 2>&1
    line=$(grep '^{"rps"' "$work/wrk.txt") || { cat "$work/wrk.txt" >&2; exit 1; }
    python3 -c 'import json,sys; r = json.loads(sys.argv[1]); sys.exit(f"{sys.argv[2]}: {r}" if r["non2xx"] or r["socket_errors"] else 0)' "$line" "$name"
    printf '  %-34s %9.0f req/s\n' "$name" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["rps"])' "$line")"
}
echo "load: wrk -t2 -c64 -d${duration}s each"
load "GET /healthz" "http://127.0.0.1:$port/healthz"
BENCH_BASIC=$rs_auth BENCH_TOKEN=$opaque_token load "POST /introspect (opaque)" "http://127.0.0.1:$port/introspect" "$here/scripts/bench/introspect.lua"
BENCH_BASIC=$(basic bench-es256 "$es256_secret") load "POST /token (ES256 JWT)" "http://127.0.0.1:$port/token" "$here/scripts/bench/token.lua"
loaded_peak=$(peak_rss_mb "$tessera_pid")

echo "opening $idle idle keep-alive connections (one GET /healthz each)"
coproc IDLE { python3 "$here/scripts/bench/idle_connections.py" 127.0.0.1 "$port" "$idle" /healthz; }
idle_pid=$IDLE_PID
read -r ready held <&"${IDLE[0]}" || true
[ "${ready:-}" = ready ] || { wait "$idle_pid" || true; echo "the idle connections could not all be opened" >&2; exit 1; }
sleep 1
idle_rss=$(rss_mb "$tessera_pid")
idle_peak=$(peak_rss_mb "$tessera_pid")
echo >&"${IDLE[1]}"
wait "$idle_pid" || true
kill -0 "$tessera_pid" 2>/dev/null || { cat "$work/tessera.log" >&2; echo "tessera exited during the bench" >&2; exit 1; }

echo
printf '%-52s %9s MiB\n' "resident after start-up and one request per client" "$started_rss"
printf '%-52s %9s MiB\n' "peak resident under load (VmHWM)" "$loaded_peak"
printf '%-52s %9s MiB\n' "resident with $held idle keep-alive connections" "$idle_rss"
printf '%-52s %9s MiB\n' "peak resident at that point (VmHWM)" "$idle_peak"
python3 - "$loaded_peak" "$idle_rss" "$held" <<'PY'
import sys
loaded, idle, held = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"\n{'peak RSS under load (MiB)':<62}{loaded:>7.1f}  goal < 64: {'met' if loaded < 64 else 'missed'}")
print(f"{f'RSS with {held} idle keep-alive connections (MiB)':<62}{idle:>7.1f}  goal < 256: {'met' if idle < 256 else 'missed'}")
PY
result rss_peak_load_mb "$loaded_peak"
result rss_idle_connections_mb "$idle_rss"
result idle_connections_held "$held"
