# Shared by the benchmark scripts: the scratch folder, ports, readiness, machine load, CPU
# accounting, Basic credentials, the nginx reference, the results file, the server's memory and the
# glewlwyd peer. Sourced.

# bench_scratch NAME: sets `work` to a new scratch folder and arranges that at exit the Tessera
# server of `tessera_pid` is stopped, a peer this run started (`started_peer=yes`) is stopped,
# and the folder is removed.
bench_scratch() {
    work=$(mktemp -d "/tmp/tessera-bench-$1.XXXXXX")
    tessera_pid=
    started_peer=no
    trap bench_cleanup EXIT
}
bench_cleanup() {
    [ -n "${tessera_pid:-}" ] && kill "$tessera_pid" 2>/dev/null || true
    [ -n "${nginx_pid_file:-}" ] && [ -f "$nginx_pid_file" ] && kill "$(cat "$nginx_pid_file")" 2>/dev/null || true
    if [ "${started_peer:-no}" = yes ]; then "$peer_dir/stop.sh" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}

# The benchmarks measure throughput, not the per-instance rate limits: those are off here.
export TESSERA_RATE_LIMIT_TOKEN=0 TESSERA_RATE_LIMIT_INTROSPECTION=0 TESSERA_RATE_LIMIT_REVOCATION=0 \
    TESSERA_RATE_LIMIT_TOKEN_FAILURES=0 TESSERA_RATE_LIMIT_BROWSER=0
# The servers under test run on plain http on loopback, without the management listener (its fixed
# port could be taken by another server on the machine).
export TESSERA_ALLOW_INSECURE=1 TESSERA_ADMIN_LISTEN=off

# result NAME VALUE: one figure for the summary of `make bench` (scripts/bench/goals.py), appended to
# $BENCH_RESULTS when it is set.
result() { [ -z "${BENCH_RESULTS:-}" ] || echo "$1 $2" >>"$BENCH_RESULTS"; }

# peak_rss_mb PID: the process's peak resident set (VmHWM) in MiB; rss_mb PID: the current one (VmRSS).
peak_rss_mb() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# start_nginx: the reference server, nginx answering a fixed 200 with /healthz's body at
# http://127.0.0.1:$nginx_port/healthz (worker_processes auto, keep-alive). Needs `work`; stopped by
# bench_cleanup.
start_nginx() {
    nginx_port=$(free_port)
    nginx_pid_file="$work/nginx.pid"
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes auto;
pid $nginx_pid_file;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/nginx/body;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /healthz { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
NGINX
    nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log"
    wait_http "http://127.0.0.1:$nginx_port/healthz"
}

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
# RFC 6749 §2.3.1: client_secret_basic form-urlencodes the id and the secret before base64.
basic() { python3 -c 'import base64,sys,urllib.parse as u; print(base64.b64encode((u.quote_plus(sys.argv[1],safe="")+":"+u.quote_plus(sys.argv[2],safe="")).encode()).decode())' "$1" "$2"; }

# start_peer: uses the glewlwyd peer of $peer_dir at $peer_base, starting it with its setup.sh
# when it is not answering. Sets peer=yes|no, and started_peer=yes when this run started it (the
# caller's cleanup stops it then).
start_peer() {
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
}
