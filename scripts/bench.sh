#!/usr/bin/env bash
# `make bench`: each benchmark next to a reference measured in the same run, since these machines
# are shared and noisy; figures are printed as ratios, and instruction counts (callgrind), which do
# not move with the noise, are added. Ends with every goal of issue 14 as met or missed. A benchmark
# that fails does not stop the others; the script then exits 1.
#
#   scripts/bench.sh                 all benchmarks
#   BENCH_ONLY="http jose" scripts/bench.sh
#   BENCH_DURATION=5 scripts/bench.sh
#
# The figures also go to bench-results/<time>.txt (git-ignored), one "name value" per line.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export BENCH_DURATION=${BENCH_DURATION:-10}
export TESSERA_BIN="$here/.build/release/tessera"
[ -x "$TESSERA_BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
mkdir -p bench-results
export BENCH_RESULTS="$here/bench-results/$(date -u +%Y%m%dT%H%M%SZ).txt"
: >"$BENCH_RESULTS"
only=${BENCH_ONLY:-"http tls jose token refresh introspect memory instructions"}
status=0

run() {  # run NAME TITLE COMMAND...
    local name=$1 title=$2; shift 2
    case " $only " in *" $name "*) ;; *) return 0 ;; esac
    echo
    echo "== $title"
    "$@" || { echo "!! the $name benchmark failed" >&2; status=1; }
}
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(. scripts/bench/lib.sh; busy)% busy before start"
run http "HTTP: GET /healthz, JWKS and discovery next to nginx" scripts/with-test-postgres.sh scripts/bench-http.sh
run tls "HTTPS: keep-alive and new TLS 1.3 handshakes next to nginx with the same certificate" scripts/with-test-postgres.sh scripts/bench-tls.sh
run jose "JOSE: signing and verification next to openssl speed" scripts/bench-jose.sh
run token "Token endpoint: client_credentials next to the openssl ceiling and the glewlwyd peer" \
    scripts/with-test-postgres.sh scripts/bench-token.sh
run refresh "Refresh-token rotation next to pgbench running the same transaction" scripts/with-test-postgres.sh scripts/bench-refresh.sh
run introspect "Introspection: opaque and JWT tokens next to nginx and the glewlwyd peer" \
    scripts/with-test-postgres.sh scripts/bench-introspect.sh
run memory "Memory: peak RSS under load and with idle keep-alive connections" scripts/with-test-postgres.sh scripts/bench-memory.sh
run instructions "Instructions per request (callgrind)" scripts/with-test-postgres.sh scripts/bench-instructions.sh

python3 scripts/bench/goals.py "$BENCH_RESULTS"
echo
echo "figures: $BENCH_RESULTS"
exit $status
