#!/usr/bin/env bash
# make test-ha: the failover test (Tests/HighAvailability) against the built binary. The test
# starts and stops its own cluster with scripts/ha/cluster.sh; PostgreSQL, Patroni, etcd and
# PgBouncer run as the `postgres` user when we are root.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
export TESSERA_BIN="$(swift build --show-bin-path)/tessera"
exec "$here/.build/venv/bin/python" -m pytest -q -s -p no:cacheprovider Tests/HighAvailability "$@"
