#!/usr/bin/env bash
# HTTPS: GET /healthz on Tessera next to nginx, same ECDSA P-256 certificate, TLS 1.3 only on both,
# measured with wrk on loopback in the same run: keep-alive requests, then a full handshake per
# request (Connection: close; wrk does not resume sessions). Prints requests/s, p50/p99 and ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/bench/lib.sh"
bench_scratch tls
nginx_cleanup() { [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; bench_cleanup; }
trap nginx_cleanup EXIT

# wrk with --latency; prints "rps p50_ms p99_ms" (fails on any non-2xx answer or socket error).
measure() {
    wrk -t"$BENCH_THREADS" -c"$1" -d"${BENCH_DURATION}s" --latency "${@:2}" >"$work/wrk.txt"
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

# One certificate for both servers: a P-256 CA and a leaf for 127.0.0.1.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key" 2>/dev/null
openssl req -x509 -new -key "$work/ca.key" -subj "/CN=bench CA" -days 2 -out "$work/ca.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$work/server.key" 2>/dev/null
openssl req -new -key "$work/server.key" -subj "/CN=127.0.0.1" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
    -extfile "$work/ext.cnf" -out "$work/leaf.pem" 2>/dev/null
cat "$work/leaf.pem" "$work/ca.pem" >"$work/server.pem"

nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
# As many nginx workers as Tessera has event loops (one per processor): the same cores for both.
worker_processes ${NGINX_WORKERS:-auto};
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/body;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $work/server.pem;
        ssl_certificate_key $work/server.key;
        ssl_protocols TLSv1.3;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"
wait_https() { for _ in $(seq 1 200); do curl -fsS --cacert "$work/ca.pem" -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "no answer from $1" >&2; return 1; }
wait_https "https://127.0.0.1:$nginx_port/healthz"

tessera_port=$(free_port)
"$TESSERA_BIN" keys init --keys-dir "$work/keys" >/dev/null
TESSERA_KEYS_DIR="$work/keys" TESSERA_TLS_CERT="$work/server.pem" TESSERA_TLS_KEY="$work/server.key" TESSERA_ADMIN_LISTEN=off \
    "$TESSERA_BIN" serve --migrate --listen "127.0.0.1:$tessera_port" --log-level warning >"$work/tessera.log" 2>&1 &
tessera_pid=$!
wait_https "https://127.0.0.1:$tessera_port/healthz"

echo "HTTPS GET /healthz, ECDSA P-256, TLS 1.3, wrk -t$BENCH_THREADS -d${BENCH_DURATION}s, loopback, $(nproc) cores"
printf '%-34s %12s %10s %10s\n' "" "requests/s" "p50 ms" "p99 ms"
# The two servers are measured alternately, BENCH_ROUNDS times each, and each keeps its best round:
# this machine is shared, and a burst of other work during one run should not decide the ratio.
rounds=${BENCH_ROUNDS:-3}
best() {   # best LABEL CONNECTIONS WRK-ARGS...: the round with the most requests/s
    local label=$1 connections=$2; shift 2
    measure "$connections" "$@" >>"$work/rounds-$label.txt"
}
report() {
    sort -k1,1nr "$work/rounds-$1.txt" | head -1 >"$work/best-$1.txt"
    read -r rps p50 p99 <"$work/best-$1.txt"
    printf '%-34s %12s %10s %10s\n' "$2" "$rps" "$p50" "$p99"
}
measure "$BENCH_CONNECTIONS" "https://127.0.0.1:$tessera_port/healthz" >/dev/null   # warm-up
handshakes=${BENCH_HANDSHAKE_CONNECTIONS:-16}
for _ in $(seq 1 "$rounds"); do
    best t_keep "$BENCH_CONNECTIONS" "https://127.0.0.1:$tessera_port/healthz"
    best n_keep "$BENCH_CONNECTIONS" "https://127.0.0.1:$nginx_port/healthz"
done
# New connections: fewer at a time, each a full TLS 1.3 handshake.
for _ in $(seq 1 "$rounds"); do
    best t_new "$handshakes" -H "Connection: close" "https://127.0.0.1:$tessera_port/healthz"
    best n_new "$handshakes" -H "Connection: close" "https://127.0.0.1:$nginx_port/healthz"
done
report t_keep "tessera keep-alive (-c$BENCH_CONNECTIONS)"
report n_keep "nginx keep-alive (-c$BENCH_CONNECTIONS)"
report t_new "tessera new handshakes (-c$handshakes)"
report n_new "nginx new handshakes (-c$handshakes)"
ratio() { python3 -c "import sys; a, b = (float(open(f).read().split()[0]) for f in sys.argv[1:]); print(f'{a / b:.2f}')" "$work/best-$1.txt" "$work/best-$2.txt"; }
for name in t_keep n_keep t_new n_new; do read -r rps _ _ <"$work/best-$name.txt"; echo "$rps" >"$work/rps-$name.txt"; done
result https_keepalive_rps "$(cat "$work/rps-t_keep.txt")"
result https_nginx_keepalive_rps "$(cat "$work/rps-n_keep.txt")"
result https_handshake_rps "$(cat "$work/rps-t_new.txt")"
result https_nginx_handshake_rps "$(cat "$work/rps-n_new.txt")"
echo "ratio tessera/nginx (best of $rounds alternating rounds): keep-alive $(ratio t_keep n_keep), new handshakes $(ratio t_new n_new) (goal 0.80 or better on both)"
