#!/usr/bin/env bash
# Runs every test suite; called by `make test` inside scripts/with-test-postgres.sh,
# so libpq's PG* variables point at a throwaway cluster.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
status=0

export TESSERA_TEST_PYTHON="$here/.build/venv/bin/python"

# The socket suite measures timeouts of a few hundred milliseconds: it runs on its
# own so that the CPU-heavy suites (key generation, Argon2) cannot starve it.
echo "== Swift test suites: HTTP server over loopback sockets"
swift test --skip-build --filter HTTPServerTests ${SWIFT_TEST_FLAGS:-} || status=1
# The restart suite stops and starts the shared test cluster: it runs on its own so
# that no other suite sees the server go away under it.
echo "== Swift test suites: PostgreSQL restarts"
swift test --skip-build --filter PostgresRestartTests ${SWIFT_TEST_FLAGS:-} || status=1
echo "== Swift test suites: everything else"
swift test --skip-build --skip HTTPServerTests --skip PostgresRestartTests ${SWIFT_TEST_FLAGS:-} || status=1

echo "== End-to-end tests (pytest against the built binary)"
TESSERA_BIN="$(swift build --show-bin-path)/tessera" \
    "$TESSERA_TEST_PYTHON" -m pytest -q Tests/EndToEnd || status=1

# A few seconds of every libFuzzer target (Fuzz/, `make fuzz`), so that the fuzz build, its seed
# corpora and dictionaries cannot break unseen; a target that cannot start or crashes fails the run.
echo "== Fuzz targets: ${FUZZ_SMOKE_SECONDS:-5}s each"
FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-5} scripts/fuzz.sh || status=1

exit $status
