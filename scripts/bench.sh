#!/usr/bin/env bash
# `make bench`: each benchmark next to a reference measured in the same run, since
# these machines are shared and noisy; figures are printed as ratios.
#
#   scripts/bench.sh            all benchmarks
#   BENCH_DURATION=10 BENCH_CONNECTIONS=64 scripts/bench.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export BENCH_DURATION=${BENCH_DURATION:-10}
export BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
export BENCH_THREADS=${BENCH_THREADS:-1}
export TESSERA_BIN="$here/.build/release/tessera"
[ -x "$TESSERA_BIN" ] || { echo "build first: swift build -c release" >&2; exit 1; }
echo "== HTTP: GET /healthz, JWKS and discovery"
scripts/with-test-postgres.sh scripts/bench-http.sh
echo
echo "== HTTPS: keep-alive and new TLS 1.3 handshakes next to nginx with the same certificate"
scripts/with-test-postgres.sh scripts/bench-tls.sh
echo
echo "== JOSE: signing and verification"
scripts/bench-jose.sh
echo
echo "== Token endpoint: client_credentials next to the openssl ceiling and the glewlwyd peer"
scripts/with-test-postgres.sh scripts/bench-token.sh
echo
echo "== Refresh-token rotation next to pgbench running the same transaction"
scripts/with-test-postgres.sh scripts/bench-refresh.sh
echo
echo "== Introspection: opaque and JWT tokens next to the glewlwyd peer"
scripts/with-test-postgres.sh scripts/bench-introspect.sh
