#!/usr/bin/env bash
# client_credentials token issuance: Tessera (ES256 JWT, RS256 JWT, opaque) with wrk on loopback,
# next to two references measured in the same run: `openssl speed -multi 2 rsa2048` (the two-core
# RS256 signing ceiling) and the glewlwyd peer of ../shared/peers/glewlwyd (its own README),
# when that folder exists. Runs inside scripts/with-test-postgres.sh (PG* variables set).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
duration=${BENCH_DURATION:-10}
threads=${BENCH_TOKEN_THREADS:-2}
connections=${BENCH_TOKEN_CONNECTIONS:-32}
peer_dir=${PEER_DIR:-$here/../shared/peers/glewlwyd}
work=$(mktemp -d /tmp/tessera-bench-token.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
basic() { python3 -c 'import base64,sys,urllib.parse as u; print(base64.b64encode((u.quote_plus(sys.argv[1],safe="")+":"+u.quote_plus(sys.argv[2],safe="")).encode()).decode())' "$1" "$2"; }

# measure NAME URL BASIC: a warm-up, then one wrk run; appends a JSON line to results.
measure() {
    local name=$1 url=$2 auth=$3
    BENCH_BASIC=$auth wrk -t1 -c4 -d2s -s "$here/scripts/bench/token.lua" "$url" >/dev/null
    BENCH_BASIC=$auth wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$here/scripts/bench/token.lua" "$url" >"$work/$name.txt"
    local line
    line=$(grep '^{"rps"' "$work/$name.txt") || { cat "$work/$name.txt" >&2; echo "wrk printed no result for $name" >&2; exit 1; }
    echo "{\"name\":\"$name\",${line:1}" >>"$work/results.jsonl"
}

# Tessera, with one client per token kind.
bin="$here/.build/release/tessera"
port=$(free_port)
"$bin" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$bin" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"
for kind in es256:jwt:ES256 rs256:jwt:RS256 opaque:opaque:ES256; do
    IFS=: read -r name format alg <<<"$kind"
    secret=$("$bin" clients create --id "bench-$name" --grant-types client_credentials --scopes bench \
        --audiences https://api.bench.example --token-format "$format" --signing-alg "$alg" --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    measure "tessera_$name" "http://127.0.0.1:$port/token" "$(basic "bench-$name" "$secret")"
done
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
pids=()

# The two-core RSA-2048 signing ceiling, in the same run.
openssl speed -seconds "$duration" -multi 2 -mr rsa2048 >"$work/openssl.txt" 2>/dev/null || true

# The peer, when its folder is there.
peer=no
if [ -x "$peer_dir/setup.sh" ]; then
    started_peer=no
    if ! curl -fsS -o /dev/null "http://127.0.0.1:${GLWD_PORT:-54593}/api/glwd/jwks" 2>/dev/null; then
        "$peer_dir/setup.sh" >"$work/peer-setup.log" 2>&1 || { tail -20 "$work/peer-setup.log" >&2; echo "peer setup failed; peer columns skipped" >&2; }
        started_peer=yes
    fi
    if curl -fsS -o /dev/null "http://127.0.0.1:${GLWD_PORT:-54593}/api/glwd/jwks" 2>/dev/null; then
        # The peer's own bench script: it empties the peer's token tables before each endpoint
        # (the peer stores every token and slows down as they pile up), warms up, and checks
        # that the machine is otherwise idle, so its figures are its best case.
        if "$peer_dir/bench.sh" -d "$duration" -w 2 -c "$threads:$connections" -e "token_rs256 token_es256" -o "$work/peer" >"$work/peer-bench.log" 2>&1; then
            peer=yes
            python3 - "$work/peer/results.jsonl" >>"$work/results.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    w = r["wrk"]
    print(json.dumps({"name": "peer_" + r["endpoint"].split("_", 1)[1], "rps": w["rps"], "p50_ms": w["lat_ms"]["p50"],
                      "p99_ms": w["lat_ms"]["p99"], "requests": w["requests"], "non2xx": w["err_status"],
                      "socket_errors": w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]}))
PY
        else
            tail -20 "$work/peer-bench.log" >&2
            echo "peer bench failed; peer columns skipped" >&2
        fi
    fi
    [ "$started_peer" = yes ] && "$peer_dir/stop.sh" >/dev/null 2>&1 || true
else
    echo "(no peer at $peer_dir: peer columns skipped)"
fi

python3 - "$work/results.jsonl" "$work/openssl.txt" "$peer" "$threads" "$connections" "$duration" <<'PY'
import json, sys
results = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
openssl_sign = None
for line in open(sys.argv[2]):
    parts = line.strip().split(":")
    if parts[0] == "+F2" and len(parts) > 3 and parts[2] == "2048":
        openssl_sign = float(parts[3])
bad = [n for n, r in results.items() if r["non2xx"] or r["socket_errors"]]
print(f"client_credentials issuance, wrk -t{sys.argv[4]} -c{sys.argv[5]} -d{sys.argv[6]}s on loopback, one run")
print(f"{'server / token':<26}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
for name, r in results.items():
    print(f"{name:<26}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['non2xx']:>9}")
if openssl_sign:
    print(f"{'openssl rsa2048 sign, 2 cores':<26}{openssl_sign:>10.0f}")
def ratio(label, ours, reference, goal):
    value = ours / reference
    print(f"{label:<52}{value:>8.2f}  goal >= {goal:g}: {'met' if value >= goal else 'MISSED'}")
print()
if openssl_sign:
    ratio("Tessera RS256 / openssl RSA-2048 two-core sign rate", results["tessera_rs256"]["rps"], openssl_sign, 0.5)
if sys.argv[3] == "yes":
    ratio("Tessera ES256 / peer ES256", results["tessera_es256"]["rps"], results["peer_es256"]["rps"], 10)
    ratio("Tessera opaque / peer ES256 (its fastest token)", results["tessera_opaque"]["rps"], results["peer_es256"]["rps"], 10)
    ratio("Tessera RS256 / peer RS256", results["tessera_rs256"]["rps"], results["peer_rs256"]["rps"], 1)
if bad:
    sys.exit(f"invalid run: non-2xx responses or socket errors in {', '.join(bad)}")
PY
