#!/usr/bin/env bash
# RFC 7662 introspection at POST /introspect: Tessera with an opaque and an ES256 JWT access token,
# next to the glewlwyd peer of $PEER_DIR (default ../shared/peers/glewlwyd) introspecting its own
# RS256 token, all driven by the same wrk script with the same parameters in the same run, and next
# to nginx answering a fixed 200 at -t1 -c64. Loads: -t1 -c64 (against nginx), the headline (-t2
# -c32), -t1 -c8, a moderate one (-t1 -c2) for the latency goal, and -t1 -c1. Each response is
# checked to say "active": true before and after. Without the peer, its rows and the ratios are
# skipped with a note. "Moderate load" is two connections (-t1 -c2): wrk cannot fix a request rate,
# and two connections keep the server well under saturation while wrk shares the two cores with it.
# Goals (issue 14): opaque introspection at 0.5 or more of nginx's fixed 200 at -c64, and a p99
# under 1 ms at -c2.
# Runs inside scripts/with-test-postgres.sh (libpq PG* variables set).
#
#   BENCH_DURATION=5 scripts/with-test-postgres.sh scripts/bench-introspect.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
duration=${BENCH_DURATION:-10}
peer_dir=${PEER_DIR:-$here/../shared/peers/glewlwyd}
peer_base="http://127.0.0.1:${GLWD_PORT:-54593}/api"
lua="$here/scripts/bench/introspect.lua"
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }

. "$here/scripts/bench/lib.sh"
bench_scratch introspect

# check NAME URL BASIC TOKEN: the introspection answers 200 and active true.
check() {
    local status
    status=$(curl -sS -o "$work/$1.check" -w '%{http_code}' -H "Authorization: Basic $3" -d "token=$4" "$2")
    [ "$status" = 200 ] && grep -q '"active" *: *true' "$work/$1.check" \
        || { echo "$1: introspection did not answer active ($status): $(head -c 300 "$work/$1.check")" >&2; exit 1; }
}
# measure NAME URL BASIC TOKEN: warm-up, then -t2 -c32, -t1 -c8 and -t1 -c2 runs appended to results.jsonl.
measure() {
    local name=$1 url=$2 auth=$3 token=$4 t c line
    check "$name" "$url" "$auth" "$token"
    BENCH_BASIC=$auth BENCH_TOKEN=$token wrk -t2 -c32 -d2s -s "$lua" "$url" >/dev/null
    for tc in 1:64 2:32 1:8 1:2 1:1; do
        t=${tc%:*}; c=${tc#*:}
        BENCH_BASIC=$auth BENCH_TOKEN=$token wrk -t"$t" -c"$c" -d"${duration}s" --latency -s "$lua" "$url" >"$work/$name.$c.txt" 2>&1
        line=$(grep '^{"rps"' "$work/$name.$c.txt") || { cat "$work/$name.$c.txt" >&2; exit 1; }
        echo "{\"name\":\"$name\",\"connections\":$c,${line:1}" >>"$work/results.jsonl"
    done
    check "$name" "$url" "$auth" "$token"
}

echo "$(nproc) cores shared by wrk, the servers and PostgreSQL; machine busy before start: $(busy)%"
start_peer
start_nginx

port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/readyz"
create() {  # create ID ARGS...: prints the new client's secret
    local id=$1; shift
    TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" clients create --id "$id" --grant-types client_credentials --scopes bench \
        --audiences https://api.bench.example --auth-method client_secret_basic --json "$@" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'
}
rs_secret=$(create bench-rs --introspect-audiences https://api.bench.example)
rs_auth=$(basic bench-rs "$rs_secret")
for kind in opaque:opaque jwt:jwt; do
    IFS=: read -r name format <<<"$kind"
    secret=$(create "bench-$name" --token-format "$format" --signing-alg ES256)
    token=$(curl -fsS -u "bench-$name:$secret" -d grant_type=client_credentials "http://127.0.0.1:$port/token" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    measure "tessera_$name" "http://127.0.0.1:$port/introspect" "$rs_auth" "$token"
    if [ "$name" = opaque ]; then
        # The reference, right after the opaque runs: nginx's fixed 200 with the same wrk parameters.
        wrk -t1 -c64 -d"${duration}s" --latency -s "$here/scripts/bench/report.lua" "http://127.0.0.1:$nginx_port/healthz" >"$work/nginx.txt" 2>&1
        line=$(grep '^{"rps"' "$work/nginx.txt") || { cat "$work/nginx.txt" >&2; exit 1; }
        echo "{\"name\":\"nginx\",\"connections\":64,${line:1}" >>"$work/results.jsonl"
    fi
done
echo "tessera peak RSS: $(peak_rss_mb "$tessera_pid") MiB"
result rss_peak_introspect_mb "$(peak_rss_mb "$tessera_pid")"
kill "$tessera_pid"; wait "$tessera_pid" 2>/dev/null || true; tessera_pid=

if [ "$peer" = yes ]; then
    peer_auth=$(basic "${GLWD_CLIENT_ID:-bench-client}" "${GLWD_CLIENT_SECRET:-bench-secret-0123456789abcdef}")
    peer_token=$(curl -fsS -H "Authorization: Basic $peer_auth" -d grant_type=client_credentials -d "scope=${GLWD_SCOPE:-bench}" \
        "$peer_base/glwd/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    measure peer_rs256 "$peer_base/glwd/introspect" "$peer_auth" "$peer_token"
fi
echo "machine busy at the end: $(busy)%"

python3 - "$work/results.jsonl" "$peer" "$duration" "${BENCH_RESULTS:-}" <<'PY'
import json, sys
path, peer, duration, results_path = sys.argv[1:]
rows = [json.loads(line) for line in open(path)]
by = {(r["name"], r["connections"]): r for r in rows}
labels = {"tessera_opaque": "tessera, opaque token", "tessera_jwt": "tessera, ES256 JWT", "peer_rs256": "glewlwyd, RS256 JWT"}
loads = (64, 32, 8, 2, 1)
print(f"\nPOST /introspect (client_secret_basic), wrk -d{duration}s, loopback (-c64 and -c32: -t1 and -t2; the rest -t1)")
print(f"{'server / token':<24}" + "".join(f"{'-c%d req/s' % c:>11}{'p50 ms':>8}{'p99 ms':>8}" for c in loads))
for name in labels:
    if (name, 32) in by:
        print(f"{labels[name]:<24}" + "".join(f"{by[(name, c)]['rps']:>11.0f}{by[(name, c)]['p50_ms']:>8.2f}{by[(name, c)]['p99_ms']:>8.2f}"
                                           for c in loads))
nginx = by[("nginx", 64)]
print(f"{'nginx, fixed 200':<24}{nginx['rps']:>11.0f}{nginx['p50_ms']:>8.2f}{nginx['p99_ms']:>8.2f}")
labels["nginx"] = "nginx"
bad = [f"{labels[r['name']]} -c{r['connections']}: {r['non2xx']} non-2xx, {r['socket_errors']} socket errors"
       for r in rows if r["non2xx"] or r["socket_errors"]]
if bad:
    sys.exit("INVALID RUN, no ratios: " + "; ".join(bad))
print()
value = by[("tessera_opaque", 64)]["rps"] / nginx["rps"]
print(f"{'tessera, opaque / nginx fixed 200 (-t1 -c64)':<62}{value:>7.2f}  goal >= 0.5: {'met' if value >= 0.5 else 'missed'}")
for name in ("tessera_opaque", "tessera_jwt"):
    p99 = by[(name, 2)]["p99_ms"]
    verdict = f"goal < 1: {'met' if p99 < 1 else 'missed'}" if name == "tessera_opaque" else "(no goal)"
    print(f"{labels[name] + ' p99 at moderate load, -c2 (ms)':<62}{p99:>7.2f}  {verdict}")
if peer == "yes":
    for name in ("tessera_opaque", "tessera_jwt"):
        value = by[(name, 32)]["rps"] / by[("peer_rs256", 32)]["rps"]
        print(f"{labels[name] + ' / glewlwyd (-c32)':<62}{value:>7.2f}  goal >= 10: {'met' if value >= 10 else 'missed'}")
else:
    print("(no peer: ratios skipped)")
if results_path:
    with open(results_path, "a") as out:
        for (name, c), r in by.items():
            key = name.replace("tessera_", "introspect_").replace("peer_", "peer_introspect_")
            out.write(f"{key}_c{c}_rps {r['rps']}\n{key}_c{c}_p99_ms {r['p99_ms']}\n")
PY
