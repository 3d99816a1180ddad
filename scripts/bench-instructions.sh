#!/usr/bin/env bash
# Instructions the server spends per request, counted with valgrind's callgrind: a figure that does
# not move with the machine's other load, to compare from one version to the next.
#
# Method: the server runs under `valgrind --tool=callgrind --instr-atstart=no` (nothing counted). For
# each kind of request, a client sends a warm-up (caches filled, the client's secret verified once
# with Argon2id), then, BATCHES times: `callgrind_control` zeroes the counters and turns
# instrumentation on, the client sends exactly N/BATCHES requests one after another on one keep-alive
# connection, instrumentation goes off, the counters are dumped, and their total (every thread of the
# process) divided by the requests is that batch's figure. The median batch is reported, with the
# lowest and highest: background work that happens to fall into a batch (the signing keys are
# reloaded every 30 s) shows as a high batch instead of moving the figure.
#
# Kinds: GET /healthz; POST /introspect of an opaque token (client_secret_basic); POST /token with
# client_credentials for an ES256 JWT (client_secret_basic, secret already verified).
# The median batch's callgrind profile of each kind is kept in BENCH_PROFILES (default: next to
# $BENCH_RESULTS, else not kept), for `callgrind_annotate --inclusive=yes FILE`.
# Runs inside scripts/with-test-postgres.sh. Skipped, with a note, without valgrind.
#
#   BENCH_INSTRUCTIONS_REQUESTS=500 scripts/with-test-postgres.sh scripts/bench-instructions.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
requests=${BENCH_INSTRUCTIONS_REQUESTS:-1000}
batches=${BENCH_INSTRUCTIONS_BATCHES:-5}
per_batch=$((requests / batches))
profiles=${BENCH_PROFILES:-${BENCH_RESULTS:+${BENCH_RESULTS%.txt}-profiles}}
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    echo "(valgrind is not installed: no instruction counts; scripts/install-deps.sh bench installs it)"
    exit 0
fi

. "$here/scripts/bench/lib.sh"
bench_scratch instructions
driver="$here/scripts/bench/requests.py"

# A server run natively first: migrations, signing keys (key generation under valgrind would take
# minutes), the clients and an opaque token. Both servers have the same issuer, so the token is theirs.
port=$(free_port)
export TESSERA_ISSUER="http://127.0.0.1:$port"
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/prepare.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/readyz"
create() {  # create ID ARGS...: prints the new client's secret
    local id=$1; shift
    TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" clients create --id "$id" --grant-types client_credentials --scopes bench \
        --audiences https://api.bench.example --auth-method client_secret_basic --json "$@" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])'
}
es256_auth=$(basic bench-es256 "$(create bench-es256 --token-format jwt --signing-alg ES256)")
opaque_secret=$(create bench-opaque --token-format opaque --signing-alg ES256)
rs_auth=$(basic bench-rs "$(create bench-rs --introspect-audiences https://api.bench.example)")
opaque_token=$(curl -fsS -u "bench-opaque:$opaque_secret" -d grant_type=client_credentials "http://127.0.0.1:$port/token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
kill "$tessera_pid"; wait "$tessera_pid" 2>/dev/null || true; tessera_pid=

# Valgrind 3.19 cannot read the Swift toolchain's DWARF 5 debug information (it gives up on the
# binary): a copy without it keeps the symbol table, which is all the counts need. And it crashes on
# the sigsuspend() that ends dispatch_main(): see scripts/bench/sigsuspend-shim.c.
toolchain=$(dirname "$(readlink -f "$(command -v swift)")")
objcopy=$toolchain/llvm-objcopy; [ -x "$objcopy" ] || objcopy=objcopy
cc=$toolchain/clang; [ -x "$cc" ] || cc=cc
"$objcopy" --strip-debug "$TESSERA_BIN" "$work/tessera"
"$cc" -shared -fPIC -O2 -o "$work/sigsuspend-shim.so" "$here/scripts/bench/sigsuspend-shim.c"

echo "starting the server under callgrind (instrumentation off)"
port=$(free_port)
TESSERA_KEYS_DIR="$work/keys" LD_PRELOAD="$work/sigsuspend-shim.so" \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
    "$work/tessera" serve --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>"$work/valgrind.log" &
tessera_pid=$!
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
    kill -0 "$tessera_pid" 2>/dev/null || break
    sleep 0.5
done
curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" || { tail -n 20 "$work/valgrind.log" "$work/tessera.log" >&2; exit 1; }

# counted COMMAND...: zero, instrument while the command runs, dump; prints the total. Dumps are
# numbered callgrind.out.1, .2, ... in order.
counted() {
    local file="$work/callgrind.out.$(( $(find "$work" -name 'callgrind.out.*' | wc -l) + 1 ))"
    callgrind_control -z "$tessera_pid" >/dev/null 2>&1
    callgrind_control -i on "$tessera_pid" >/dev/null 2>&1
    "$@"
    callgrind_control -i off "$tessera_pid" >/dev/null 2>&1
    callgrind_control -d "$tessera_pid" >/dev/null 2>&1
    for _ in $(seq 1 100); do [ -s "$file" ] && grep -q '^totals:' "$file" && break; sleep 0.1; done
    sed -n 's/^totals: *//p' "$file"
}
# measure NAME URL ARGS...: a warm-up, then the counted batches; prints and records instructions per
# request (the median batch), and keeps that batch's profile.
measure() {
    local name=$1 url=$2 batch figure median_file figures=(); shift 2
    python3 "$driver" "$url" 20 "$@"
    for batch in $(seq 1 "$batches"); do
        figure=$(( $(counted python3 "$driver" "$url" "$per_batch" "$@") / per_batch ))
        figures+=("$figure $(find "$work" -name 'callgrind.out.*' | wc -l)")
    done
    read -r median median_file low high < <(printf '%s\n' "${figures[@]}" | sort -n \
        | awk '{ v[NR] = $1; f[NR] = $2 } END { m = int((NR + 1) / 2); print v[m], f[m], v[1], v[NR] }')
    printf '%-28s %12s %12s %12s\n' "$name" "$median" "$low" "$high"
    result "instructions_$name" "$median"
    if [ -n "$profiles" ]; then
        mkdir -p "$profiles"
        cp "$work/callgrind.out.$median_file" "$profiles/$name.callgrind"
    fi
}

echo
echo "instructions per request under callgrind: $batches batches of $per_batch requests, one keep-alive connection"
printf '%-28s %12s %12s %12s\n' request median lowest highest
measure healthz "http://127.0.0.1:$port/healthz"
measure introspect_opaque "http://127.0.0.1:$port/introspect" --header "Authorization: Basic $rs_auth" \
    --post "token=$opaque_token" --expect '"active":true'
measure token_es256 "http://127.0.0.1:$port/token" --header "Authorization: Basic $es256_auth" \
    --post "grant_type=client_credentials&scope=bench" --expect '"access_token"'
kill -0 "$tessera_pid" 2>/dev/null || { tail -n 20 "$work/valgrind.log" "$work/tessera.log" >&2; echo "the server exited" >&2; exit 1; }
# Stopped here rather than by the cleanup, so that its last dump is written before the folder goes.
kill "$tessera_pid"; wait "$tessera_pid" 2>/dev/null || true; tessera_pid=
[ -z "$profiles" ] || echo "profiles of the median batches: $profiles (callgrind_annotate --inclusive=yes FILE)"
