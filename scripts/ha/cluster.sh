#!/usr/bin/env bash
# A throwaway highly available PostgreSQL on loopback, for `make test-ha`:
# one etcd, three PostgreSQL nodes managed by Patroni with synchronous replication, HAProxy
# in front of whichever node is the primary (asked of Patroni's REST API), and PgBouncer in
# transaction mode behind that HAProxy.
#
#   scripts/ha/cluster.sh start DIR    start everything in DIR (new, empty); write DIR/env
#   scripts/ha/cluster.sh stop DIR     stop everything started in DIR (SIGKILL what lingers)
#
# DIR/env holds shell assignments the test reads: the ports, the data folders and the
# multi-host URL. Every process runs as the `postgres` user when we are root (PostgreSQL
# and PgBouncer refuse to run as root), and every port is a free one on 127.0.0.1.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/postgres-env.sh"

command=${1:-}
dir=${2:-}
[ -n "$command" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

# Patroni timing, tuned for a quick failover (Patroni docs: loop_wait + 2 * retry_timeout <= ttl):
# a dead primary's leader key expires after TTL seconds; every node looks every LOOP_WAIT.
TTL=10
LOOP_WAIT=1
RETRY_TIMEOUT=4

free_ports() {
    python3 - "$1" <<'EOF'
import socket, sys
sockets = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
print(" ".join(str(s.getsockname()[1]) for s in sockets))
EOF
}

as_owner_background() {
    # as_owner_background PIDFILE LOG COMMAND...: starts a long-running process in a session of
    # its own, output to LOG. The process writes its own pid (a shell that then execs the
    # command), so PIDFILE names it and not runuser, which signals could not pass through.
    local pidfile=$1 log=$2; shift 2
    local launch=(sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@")
    if [ "$(id -u)" = 0 ]; then
        setsid runuser -u postgres -- "${launch[@]}" >"$log" 2>&1 < /dev/null &
    else
        setsid "${launch[@]}" >"$log" 2>&1 < /dev/null &
    fi
    local deadline=$((SECONDS + 10))
    until [ -s "$pidfile" ]; do
        [ $SECONDS -lt $deadline ] || { echo "cluster: $1 did not start" >&2; return 1; }
        sleep 0.05
    done
}

wait_for() {
    # wait_for SECONDS DESCRIPTION COMMAND...: retries COMMAND until it succeeds.
    local seconds=$1 what=$2; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "cluster: $what did not happen within ${seconds}s" >&2
            return 1
        fi
        sleep 0.2
    done
}

etcd_healthy() {
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$1/health"
}

is_primary() {
    # Patroni before 3.0.4 says "master".
    case "$(patroni_state "$1")" in "primary running" | "master running") return 0 ;; *) return 1 ;; esac
}

patroni_state() {
    # patroni_state PORT: the node's role and state from its REST API, e.g. "primary running".
    python3 - "$1" <<'EOF'
import json, sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/patroni", timeout=2) as response:
        body = json.load(response)
except Exception as error:
    body = {}
print(body.get("role", "-"), body.get("state", "-"))
EOF
}

cluster_ready() {
    # One primary, two streaming replicas, one of them the synchronous standby.
    python3 - "$REST1" <<'EOF'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/cluster", timeout=2) as response:
    members = json.load(response)["members"]
roles = sorted(m["role"] for m in members if m.get("state") in ("running", "streaming"))
assert roles == ["leader", "replica", "sync_standby"], roles
EOF
}

start() {
    [ -e "$dir/env" ] && { echo "cluster: $dir already holds a cluster" >&2; exit 1; }
    mkdir -p "$dir"
    chmod 755 "$dir"
    read -r ETCD_CLIENT ETCD_PEER PG1 PG2 PG3 REST1 REST2 REST3 PRIMARY_PORT BOUNCER_PORT <<<"$(free_ports 10)"
    for node in 1 2 3; do mkdir -p "$dir/node$node"; done
    mkdir -p "$dir/etcd" "$dir/pgbouncer"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir"; fi

    as_owner_background "$dir/etcd.pid" "$dir/etcd.log" etcd --name ha --data-dir "$dir/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
        --initial-cluster "ha=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new
    wait_for 30 "etcd answering" etcd_healthy "$ETCD_CLIENT"

    local pg_ports=("$PG1" "$PG2" "$PG3") rest_ports=("$REST1" "$REST2" "$REST3")
    for node in 1 2 3; do
        local pg=${pg_ports[$((node - 1))]} rest=${rest_ports[$((node - 1))]}
        cat >"$dir/node$node/patroni.yml" <<EOF
scope: tessera-ha
namespace: /tessera-ha/
name: node$node
restapi:
  listen: 127.0.0.1:$rest
  connect_address: 127.0.0.1:$rest
etcd3:
  hosts: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only once the synchronous standby has it, and only that standby
    # may be promoted: a failover loses nothing that was acknowledged.
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 200
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
  initdb:
    - encoding: UTF8
    - locale: C
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$pg
  connect_address: 127.0.0.1:$pg
  data_dir: $dir/node$node/data
  bin_dir: $PGBIN
  pgpass: $dir/node$node/pgpass
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: $dir/node$node
tags:
  nofailover: false
  noloadbalance: false
EOF
        if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir/node$node/patroni.yml"; fi
        as_owner_background "$dir/node$node/patroni.pid" "$dir/node$node/patroni.log" patroni "$dir/node$node/patroni.yml"
        # The first node bootstraps the cluster; the others then copy it.
        if [ "$node" = 1 ]; then
            wait_for 90 "node1 becoming the primary" is_primary "$REST1" || { tail -n 30 "$dir/node1/patroni.log" >&2; exit 1; }
        fi
    done

    cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check 1s
# The primary only, as Patroni's REST API reports it; sessions to a node that stops being
# the primary are cut, so that clients reconnect to the new one.
listen postgres_primary
    bind 127.0.0.1:$PRIMARY_PORT
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
    server node1 127.0.0.1:$PG1 check port $REST1
    server node2 127.0.0.1:$PG2 check port $REST2
    server node3 127.0.0.1:$PG3 check port $REST3
EOF
    haproxy -c -q -f "$dir/haproxy.cfg"
    as_owner_background "$dir/haproxy.pid" "$dir/haproxy.log" haproxy -f "$dir/haproxy.cfg" -db

    printf '"postgres" ""\n' >"$dir/pgbouncer/userlist.txt"
    cat >"$dir/pgbouncer/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PRIMARY_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $dir/pgbouncer/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 40
; After a failover, retry the new primary at once, and answer a client that waits for a server
; connection with an error well before Tessera's own bounds (a quick 503 instead of a slow one).
server_login_retry = 1
query_wait_timeout = 3
server_connect_timeout = 2
logfile = $dir/pgbouncer/pgbouncer.log
EOF
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$dir/pgbouncer" "$dir/haproxy.cfg"; fi
    as_owner_background "$dir/pgbouncer.pid" "$dir/pgbouncer/stdout.log" pgbouncer "$dir/pgbouncer/pgbouncer.ini"

    wait_for 120 "two replicas streaming, one synchronous" cluster_ready || { tail -n 20 "$dir"/node*/patroni.log >&2; exit 1; }
    wait_for 30 "HAProxy reaching the primary" "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -c "SELECT 1"
    wait_for 30 "PgBouncer reaching the primary" "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$BOUNCER_PORT" -U postgres -d postgres -c "SELECT 1"

    cat >"$dir/env" <<EOF
HA_DIR=$dir
HA_PGBIN=$PGBIN
HA_ETCD_PORT=$ETCD_CLIENT
HA_PG_PORTS="$PG1 $PG2 $PG3"
HA_REST_PORTS="$REST1 $REST2 $REST3"
HA_PRIMARY_PORT=$PRIMARY_PORT
HA_BOUNCER_PORT=$BOUNCER_PORT
HA_HOSTS=127.0.0.1:$PG1,127.0.0.1:$PG2,127.0.0.1:$PG3
EOF
    echo "cluster: ready in $dir (primary node1 on $PG1, HAProxy $PRIMARY_PORT, PgBouncer $BOUNCER_PORT)"
}

stop() {
    [ -d "$dir" ] || return 0
    local pidfiles=("$dir/pgbouncer.pid" "$dir/haproxy.pid" "$dir"/node*/patroni.pid "$dir/etcd.pid")
    # Patroni stops its PostgreSQL on SIGTERM; what is still there after a while is killed.
    for file in "${pidfiles[@]}"; do
        [ -f "$file" ] && kill -TERM "$(cat "$file")" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 20))
    for file in "${pidfiles[@]}"; do
        [ -f "$file" ] || continue
        local pid
        pid=$(cat "$file")
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    # A PostgreSQL whose Patroni was killed (the failover test does that) is stopped here.
    for data in "$dir"/node*/data; do
        if [ -f "$data/postmaster.pid" ]; then
            local postmaster
            postmaster=$(head -n 1 "$data/postmaster.pid")
            kill -QUIT "$postmaster" 2>/dev/null || true
            while kill -0 "$postmaster" 2>/dev/null && [ $SECONDS -lt $((deadline + 10)) ]; do sleep 0.2; done
            kill -KILL "$postmaster" 2>/dev/null || true
        fi
    done
}

case "$command" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
