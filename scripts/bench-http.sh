#!/usr/bin/env bash
# GET /healthz on Tessera against nginx answering a fixed 200, both with keep-alive, measured with
# wrk on loopback in the same run (BENCH_THREADS threads, BENCH_CONNECTIONS connections, default
# -t1 -c64). Prints requests/s, p50/p99, the ratio and the goal (issue 14: 1.5x nginx), then the
# JWKS and discovery documents against the same reference.
# Runs inside scripts/with-test-postgres.sh (libpq PG* variables set).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$here/.build/release/tessera}
threads=${BENCH_THREADS:-1}
connections=${BENCH_CONNECTIONS:-64}
duration=${BENCH_DURATION:-10}
[ -x "$TESSERA_BIN" ] || { echo "no $TESSERA_BIN: build first (swift build -c release)" >&2; exit 1; }

. "$here/scripts/bench/lib.sh"
bench_scratch http

# wrk with --latency; prints "rps p50_ms p99_ms".
measure() {
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$1" >"$work/wrk.txt"
    python3 - "$work/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    n, unit = re.match(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit(f"wrk saw {errors.group(1)} non-2xx responses")
print(f"{rps:.0f} {p50:.3f} {p99:.3f}")
PY
}

echo "$(nproc) cores shared by wrk and the servers; machine busy before start: $(busy)%"
start_nginx

port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$port" --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_http "http://127.0.0.1:$port/healthz"

echo "GET /healthz, wrk -t$threads -c$connections -d${duration}s, keep-alive, loopback"
measure "http://127.0.0.1:$port/healthz" >/dev/null   # warm-up
read -r t_rps t_p50 t_p99 < <(measure "http://127.0.0.1:$port/healthz")
read -r n_rps n_p50 n_p99 < <(measure "http://127.0.0.1:$nginx_port/healthz")
printf '%-10s %12s %10s %10s\n' server "requests/s" "p50 ms" "p99 ms"
printf '%-10s %12s %10s %10s\n' tessera "$t_rps" "$t_p50" "$t_p99"
printf '%-10s %12s %10s %10s\n' nginx "$n_rps" "$n_p50" "$n_p99"
python3 -c "r = $t_rps / $n_rps; print(f'ratio tessera/nginx: {r:.2f}  goal >= 1.5: {\"met\" if r >= 1.5 else \"missed\"}')"
result http_healthz_rps "$t_rps"
result http_healthz_p99_ms "$t_p99"
result http_nginx_rps "$n_rps"
for path in /.well-known/jwks.json /.well-known/openid-configuration; do
    read -r rps p50 p99 < <(measure "http://127.0.0.1:$port$path")
    printf '%-38s %10s req/s  p50 %s ms  p99 %s ms  (%.2f of nginx fixed 200)\n' "GET $path" "$rps" "$p50" "$p99" "$(python3 -c "print($rps/$n_rps)")"
done
kill -0 "$tessera_pid" 2>/dev/null || { cat "$work/tessera.log" >&2; echo "tessera exited during the bench" >&2; exit 1; }
echo "tessera peak RSS: $(peak_rss_mb "$tessera_pid") MiB"
result rss_peak_http_mb "$(peak_rss_mb "$tessera_pid")"
echo "machine busy at the end: $(busy)%"
