#!/usr/bin/env bash
# GET /healthz on Tessera against nginx answering a fixed 200, both with keep-alive,
# measured with wrk on loopback in the same run. Prints requests/s, p50/p99 and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/tessera-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

. "$here/scripts/bench/lib.sh"

# wrk with --latency; prints "rps p50_ms p99_ms".
measure() {
    wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"${BENCH_DURATION}s" --latency "$1" >"$work/wrk.txt"
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

nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/body;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
wait_http "http://127.0.0.1:$nginx_port/healthz"

tessera_port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$tessera_port" --log-level warning >"$work/tessera.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$tessera_port/healthz"

echo "GET /healthz, wrk -t$BENCH_THREADS -c$BENCH_CONNECTIONS -d${BENCH_DURATION}s, keep-alive, loopback, $(nproc) cores"
measure "http://127.0.0.1:$tessera_port/healthz" >/dev/null   # warm-up
read -r t_rps t_p50 t_p99 < <(measure "http://127.0.0.1:$tessera_port/healthz")
read -r n_rps n_p50 n_p99 < <(measure "http://127.0.0.1:$nginx_port/healthz")
printf '%-10s %12s %10s %10s\n' server "requests/s" "p50 ms" "p99 ms"
printf '%-10s %12s %10s %10s\n' tessera "$t_rps" "$t_p50" "$t_p99"
printf '%-10s %12s %10s %10s\n' nginx "$n_rps" "$n_p50" "$n_p99"
python3 -c "print(f'ratio tessera/nginx: {$t_rps/$n_rps:.2f} (goal 0.50 or better)')"
for path in /.well-known/jwks.json /.well-known/openid-configuration; do
    read -r rps p50 p99 < <(measure "http://127.0.0.1:$tessera_port$path")
    printf '%-38s %10s req/s  p50 %s ms  p99 %s ms  (%.2f of nginx fixed 200)\n' "GET $path" "$rps" "$p50" "$p99" "$(python3 -c "print($rps/$n_rps)")"
done
