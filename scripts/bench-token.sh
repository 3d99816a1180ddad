#!/usr/bin/env bash
# client_credentials issuance at POST /token: Tessera with ES256 JWTs, RS256 JWTs and opaque tokens,
# measured with wrk on loopback next to two references taken in the same run:
#   - `openssl speed -multi 2 rsa2048 ecdsap256`: the two-core signing rates (RSA-2048 is the
#     ceiling for RS256 issuance);
#   - the glewlwyd peer of $PEER_DIR (default ../shared/peers/glewlwyd, see its README), driven by
#     the same wrk script with the same parameters. Skipped, with a note, when the folder is absent
#     or its setup fails; stopped at the end only if this script started it.
# Runs inside scripts/with-test-postgres.sh (libpq PG* variables set).
#
#   BENCH_DURATION=5 scripts/with-test-postgres.sh scripts/bench-token.sh
#
# Any response outside 2xx/3xx, or any socket error, makes the run invalid: the script exits 1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
duration=${BENCH_DURATION:-10}
threads=${BENCH_TOKEN_THREADS:-2}
connections=${BENCH_TOKEN_CONNECTIONS:-32}
single_duration=$(( duration < 5 ? duration : 5 ))   # the -t1 -c1 latency runs
peer_dir=${PEER_DIR:-$here/../shared/peers/glewlwyd}
peer_base="http://127.0.0.1:${GLWD_PORT:-54593}/api"
lua="$here/scripts/bench/token.lua"
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }

work=$(mktemp -d /tmp/tessera-bench-token.XXXXXX)
tessera_pid=
started_peer=no
cleanup() {
    [ -n "$tessera_pid" ] && kill "$tessera_pid" 2>/dev/null || true
    if [ "$started_peer" = yes ]; then "$peer_dir/stop.sh" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
# CPU accounting, to tell whether other jobs on this shared machine disturbed a run. cpu_sample
# writes machine-wide busy and total clock ticks (/proc/stat, steal counted as busy) and the ticks
# used by our own processes: this shell's reaped children (wrk, openssl, curl), the Tessera server,
# the throwaway PostgreSQL, and the peer's glewlwyd and PostgreSQL (each postmaster with its
# children, live or reaped). other_pct FILE0 FILE1 prints what everything else used in between, in
# percent of one core.
cpu_sample() {
    times >"$work/times.txt"   # in this shell, not a subshell: the second line is its children's time
    python3 - "$(tail -1 "$work/times.txt")" "$tessera_pid" "${TESSERA_TEST_PGDATA:-}" "${GLWD_STATE:-/tmp/glwd}" >"$1" <<'PY'
import os, sys
children, tessera, pgdata, glwd = sys.argv[1:]
hz = os.sysconf("SC_CLK_TCK")
def seconds(v):                      # bash `times` format: 1m2.345s
    m, s = v.rstrip("s").split("m")
    return 60 * float(m) + float(s)
def stat(pid):                       # fields after "(comm)": state ppid ... utime stime cutime cstime
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
def first_line(path):
    try:
        return open(path).readline().strip()
    except OSError:
        return ""
ours = sum(seconds(v) for v in children.split()) * hz
postmasters = {p for p in (first_line(f"{pgdata}/postmaster.pid") if pgdata else "", first_line(f"{glwd}/pgdata/postmaster.pid")) if p}
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    f = stat(pid)
    if f is None:
        continue
    if pid in postmasters:
        ours += sum(int(x) for x in f[11:15])
    elif f[1] in postmasters or pid in (tessera, first_line(f"{glwd}/glewlwyd.pid")):
        ours += int(f[11]) + int(f[12])
cpu = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
print(sum(cpu) - cpu[3] - cpu[4], sum(cpu), int(ours))
PY
}
other_pct() {
    python3 -c '
import os, sys
(b0, t0, o0), (b1, t1, o1) = ([int(x) for x in open(p).read().split()] for p in sys.argv[1:])
print(max(0, round(100 * ((b1 - b0) - (o1 - o0)) / ((t1 - t0) / os.cpu_count()))))' "$1" "$2"
}
# Share of both cores busy over one second, between runs: other jobs on the machine.
busy() { python3 -c '
import time
def sample():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(f) - f[3] - f[4], sum(f)
(b0, t0), _, (b1, t1) = sample(), time.sleep(1), sample()
print(round(100 * (b1 - b0) / (t1 - t0)))'; }
# Before a retry: wait up to 30 s for the machine to be under 10 % busy.
wait_quiet() { for _ in $(seq 1 30); do [ "$(busy)" -lt 10 ] && return 0; done; return 0; }
max_other=${BENCH_TOKEN_MAX_OTHER:-25}   # core-% used by other jobs during a run before it is retried
# RFC 6749 §2.3.1: client_secret_basic form-urlencodes the id and the secret before base64.
basic() { python3 -c 'import base64,sys,urllib.parse as u; print(base64.b64encode((u.quote_plus(sys.argv[1],safe="")+":"+u.quote_plus(sys.argv[2],safe="")).encode()).decode())' "$1" "$2"; }

# check_token NAME URL BASIC EXPECTED: a few sequential requests that must each answer 200 with a
# Bearer token for scope "bench" of the expected kind (ES256, RS256 or opaque). They also warm up
# the server (Tessera: the first request of a client costs one Argon2id verification).
check_token() {
    local name=$1 url=$2 auth=$3 expected=$4 i
    for i in 1 2 3; do
        curl -sS -o "$work/$name.body" -w '%{http_code}' -H "Authorization: Basic $auth" \
            -d grant_type=client_credentials -d scope=bench "$url" >"$work/$name.status"
        python3 - "$name" "$expected" "$(cat "$work/$name.status")" "$work/$name.body" <<'PY'
import base64, json, sys
name, expected, status, path = sys.argv[1:]
body = open(path, "rb").read()
if status != "200":
    sys.exit(f"{name}: POST /token answered {status}: {body[:300]!r}")
r = json.loads(body)
token = r["access_token"]
assert r["token_type"].lower() == "bearer" and r["scope"] == "bench", f"{name}: unexpected response {r}"
parts = token.split(".")
alg = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))["alg"] if len(parts) == 3 else "opaque"
assert alg == expected, f"{name}: expected a {expected} token, got {alg}: {token[:80]}"
PY
    done
    echo "$(wc -c <"$work/$name.body")" >"$work/$name.bytes"
}

# run NAME URL BASIC T C SECONDS: one wrk run, repeated up to twice when other jobs used more than
# max_other core-% during it; the least disturbed attempt is appended to results.jsonl.
run() {
    local name=$1 url=$2 auth=$3 t=$4 c=$5 seconds=$6 attempt line other best= best_other=
    for attempt in 1 2 3; do
        [ "$attempt" = 1 ] || wait_quiet
        cpu_sample "$work/cpu0"
        BENCH_BASIC=$auth wrk -t"$t" -c"$c" -d"${seconds}s" --latency -s "$lua" "$url" >"$work/$name.c$c.txt" 2>&1
        cpu_sample "$work/cpu1"
        other=$(other_pct "$work/cpu0" "$work/cpu1")
        line=$(grep '^{"rps"' "$work/$name.c$c.txt") || { cat "$work/$name.c$c.txt" >&2; echo "wrk printed no result for $name -c$c" >&2; exit 1; }
        if [ -z "$best" ] || [ "$other" -lt "$best_other" ]; then best=$line; best_other=$other; fi
        [ "$other" -le "$max_other" ] && break
        echo "($name -t$t -c$c: other jobs used $other core-% during the run; retrying)"
    done
    echo "{\"name\":\"$name\",\"threads\":$t,\"connections\":$c,\"response_bytes\":$(cat "$work/$name.bytes"),\"other_pct\":$best_other,${best:1}" >>"$work/results.jsonl"
}

# measure NAME URL BASIC EXPECTED: check and warm up, then the headline run and the -t1 -c1 run.
measure() {
    local name=$1 url=$2 auth=$3 expected=$4
    check_token "$name" "$url" "$auth" "$expected"
    BENCH_BASIC=$auth wrk -t"$threads" -c"$connections" -d2s -s "$lua" "$url" >/dev/null   # warm-up
    run "$name" "$url" "$auth" "$threads" "$connections" "$duration"
    run "$name" "$url" "$auth" 1 1 "$single_duration"
}

echo "$(nproc) cores shared by wrk, the servers and PostgreSQL; machine busy before start: $(busy)%"

# The peer first, so that its setup (apt, initdb) is over before anything is measured.
peer=no
if [ ! -d "$peer_dir" ]; then
    echo "(no peer at $peer_dir: peer rows and ratios skipped)"
elif curl -fsS -o /dev/null "$peer_base/glwd/jwks" 2>/dev/null; then
    peer=yes
else
    echo "starting the peer: $peer_dir/setup.sh"
    started_peer=yes
    # One retry: the peer's PostgreSQL port lies in the ephemeral range, so a client socket can
    # hold it for a moment.
    if { "$peer_dir/setup.sh" >"$work/peer-setup.log" 2>&1 || { sleep 5; "$peer_dir/setup.sh" >"$work/peer-setup.log" 2>&1; }; } && curl -fsS -o /dev/null "$peer_base/glwd/jwks" 2>/dev/null; then
        peer=yes
    else
        tail -20 "$work/peer-setup.log" >&2
        echo "(peer setup failed: peer rows and ratios skipped)"
    fi
fi

# Tessera, with one client per token kind.
port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/readyz"
for kind in es256:jwt:ES256 rs256:jwt:RS256 opaque:opaque:ES256; do
    IFS=: read -r name format alg <<<"$kind"
    secret=$(TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" clients create --id "bench-$name" \
        --grant-types client_credentials --scopes bench --audiences https://api.bench.example \
        --auth-method client_secret_basic --token-format "$format" --signing-alg "$alg" --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])')
    expected=$([ "$format" = opaque ] && echo opaque || echo "$alg")
    measure "tessera_$name" "http://127.0.0.1:$port/token" "$(basic "bench-$name" "$secret")" "$expected"
done
kill -0 "$tessera_pid" 2>/dev/null || { cat "$work/tessera.log" >&2; echo "tessera exited during the bench" >&2; exit 1; }
kill "$tessera_pid"; wait "$tessera_pid" 2>/dev/null || true
tessera_pid=

# The signing ceilings, in the same run, on both cores; retried like the wrk runs.
ssl_best_other=
for attempt in 1 2 3; do
    [ "$attempt" = 1 ] || wait_quiet
    cpu_sample "$work/cpu0"
    openssl speed -seconds "$duration" -multi 2 -mr rsa2048 ecdsap256 >"$work/openssl.try.txt" 2>"$work/openssl.err" \
        || { cat "$work/openssl.err" >&2; echo "openssl speed failed" >&2; exit 1; }
    cpu_sample "$work/cpu1"
    other=$(other_pct "$work/cpu0" "$work/cpu1")
    if [ -z "$ssl_best_other" ] || [ "$other" -lt "$ssl_best_other" ]; then mv "$work/openssl.try.txt" "$work/openssl.txt"; ssl_best_other=$other; fi
    [ "$other" -le "$max_other" ] && break
    echo "(openssl speed: other jobs used $other core-% during the run; retrying)"
done

if [ "$peer" = yes ]; then
    peer_auth=$(basic "${GLWD_CLIENT_ID:-bench-client}" "${GLWD_CLIENT_SECRET:-bench-secret-0123456789abcdef}")
    measure peer_es256 "$peer_base/glwd_es256/token" "$peer_auth" ES256
    measure peer_rs256 "$peer_base/glwd/token" "$peer_auth" RS256
fi

echo "machine busy at the end: $(busy)%"
python3 - "$work/results.jsonl" "$work/openssl.txt" "$ssl_best_other" "$max_other" "$peer" "$threads" "$connections" "$duration" "$single_duration" <<'PY'
import json, sys
path, openssl_path, ssl_other, max_other, peer, threads, connections, duration, single = sys.argv[1:]
rows = [json.loads(line) for line in open(path)]
headline = {r["name"]: r for r in rows if r["connections"] == int(connections)}
single_rows = {r["name"]: r for r in rows if r["connections"] == 1}
sign = {}
for line in open(openssl_path):
    f = line.strip().split(":")
    if f[0] == "+F2" and f[2] == "2048":
        sign["rsa2048"] = float(f[3])
    if f[0] == "+F4" and f[2] == "256":
        sign["ecdsap256"] = float(f[3])
if set(sign) != {"rsa2048", "ecdsap256"}:
    sys.exit(f"could not read the signing rates from openssl speed:\n{open(openssl_path).read()}")

labels = {"tessera_es256": "tessera ES256 JWT", "tessera_rs256": "tessera RS256 JWT", "tessera_opaque": "tessera opaque",
          "peer_es256": "glewlwyd ES256 JWT", "peer_rs256": "glewlwyd RS256 JWT"}
print(f"\nPOST /token client_credentials (client_secret_basic), wrk -t{threads} -c{connections} -d{duration}s, "
      f"and -t1 -c1 -d{single}s, loopback")
print(f"{'server / token':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
      f"{'c1 req/s':>10}{'c1 p50':>8}{'c1 p99':>8}{'bytes':>7}{'other %':>9}")
for name, r in headline.items():
    s = single_rows[name]
    print(f"{labels[name]:<22}{r['rps']:>9.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['non2xx']:>9}"
          f"{s['rps']:>10.0f}{s['p50_ms']:>8.2f}{s['p99_ms']:>8.2f}{r['response_bytes']:>7}{r['other_pct']:>9}")
print(f"{'openssl speed -multi 2':<22} rsa2048 {sign['rsa2048']:.0f} sign/s, ecdsap256 {sign['ecdsap256']:.0f} sign/s"
      f"{'':>10}other % {ssl_other}")
print("(other %: CPU used by other jobs during the headline run, in % of one core)")
disturbed = [labels[r["name"]] + f" -c{r['connections']}" for r in rows if r["other_pct"] > int(max_other)]
if int(ssl_other) > int(max_other):
    disturbed.append("openssl speed")
if disturbed:
    print(f"WARNING: other jobs used more than {max_other} core-% during: {', '.join(disturbed)}; "
          "these figures, and the ratios built on them, are disturbed")

bad = [f"{labels[r['name']]} -c{r['connections']}: {r['non2xx']} non-2xx, {r['socket_errors']} socket errors"
       for r in rows if r["non2xx"] or r["socket_errors"]]
if bad:
    sys.exit("INVALID RUN, no ratios: " + "; ".join(bad))

def ratio(label, value, goal=None):
    verdict = f"goal >= {goal:g}: {'goal met' if value >= goal else 'goal missed'}" if goal else "(no goal)"
    print(f"{label:<62}{value:>7.2f}  {verdict}")
rps = {name: r["rps"] for name, r in headline.items()}
print()
ratio("tessera RS256 / openssl rsa2048 two-core sign/s", rps["tessera_rs256"] / sign["rsa2048"], 0.5)
ratio("tessera ES256 / openssl ecdsap256 two-core sign/s", rps["tessera_es256"] / sign["ecdsap256"])
if peer == "yes":
    ratio("tessera ES256 / glewlwyd ES256", rps["tessera_es256"] / rps["peer_es256"], 10)
    # The peer issues JWTs only; ES256 is its fastest token endpoint.
    ratio("tessera opaque / glewlwyd ES256 (the peer's fastest token)", rps["tessera_opaque"] / rps["peer_es256"], 10)
    ratio("tessera RS256 / glewlwyd RS256", rps["tessera_rs256"] / rps["peer_rs256"])
PY
