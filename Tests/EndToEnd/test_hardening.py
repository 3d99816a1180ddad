"""Production hardening seen from outside: rate limits, the audit log, metrics, trusted proxies,
the refusal of insecure settings, database outages and slow clients.
"""
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import ROOT, SourceAddress, free_port, tessera_bin
from test_authorization_code import Browser, Provider, redeem
from test_refresh import first_tokens, refresh, refresh_client

API = "https://api.example.com"


def provider(server, database, keys_dir):
    return Provider(server.base, {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir})


def service(op, *args, token_format="jwt"):
    return op.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read",
                       "--audiences", API, "--token-format", token_format, *args)


def token_request(op, client, session=None, secret=None):
    return (session or requests).post(op.token_url, auth=(client["client_id"], secret or client["client_secret"]),
                                      data={"grant_type": "client_credentials"}, timeout=10)


def audit_events(server):
    """The audit lines (standard output) among everything the server wrote."""
    events = []
    for line in server.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "event" in record:
            events.append(record)
    return events


def metric(text, name, labels=None):
    pattern = re.escape(name) + (r"\{" + ",".join(f'{k}="{re.escape(v)}"' for k, v in labels.items()) + r"\}" if labels else "")
    found = re.search(r"^" + pattern + r" (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


# Rate limits

def test_token_requests_are_limited_per_client(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_RATE_LIMIT_TOKEN": "5"})
    op = provider(server, database, keys_dir)
    busy, quiet = service(op), service(op)
    statuses = [token_request(op, busy).status_code for _ in range(14)]
    assert statuses[:10] == [200] * 10, f"a burst of twice the rate passes: {statuses}"
    limited = token_request(op, busy)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] and limited.json()["error_description"]
    assert limited.headers["Cache-Control"] == "no-store"
    assert token_request(op, quiet).status_code == 200, "another client has its own bucket"
    assert any(e["event"] == "rate_limited" and e["limit"] == "token_per_client" for e in audit_events(server))
    text = requests.get(server.admin + "/metrics", timeout=5).text
    assert metric(text, "tessera_rate_limited_total", {"limit": "token_per_client"}) >= 1


def test_failures_are_limited_per_source_address(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_RATE_LIMIT_TOKEN_FAILURES": "2"})
    op = provider(server, database, keys_dir)
    client = service(op)
    statuses = [token_request(op, client, secret="wrong").status_code for _ in range(8)]
    assert 429 in statuses and statuses[0] == 401, statuses
    elsewhere = requests.Session()
    elsewhere.mount("http://", SourceAddress("127.0.0.2"))
    assert token_request(op, client, session=elsewhere, secret="wrong").status_code == 401, "another address is not limited"


def test_an_ipv6_64_counts_as_one_source_for_rate_limits(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database,
                          env={"TESSERA_RATE_LIMIT_BROWSER": "2", "TESSERA_TRUSTED_PROXIES": "127.0.0.1"})

    def page(address):
        return requests.get(server.base + "/authorize", params={"client_id": "x"}, headers={"X-Forwarded-For": address},
                            timeout=10).status_code
    # One subscriber's /64 holds 2^64 addresses: walking through them gains nothing.
    statuses = [page(f"2001:db8:5:6::{index:x}") for index in range(1, 9)]
    assert 429 in statuses, statuses
    assert page("2001:db8:5:6:ffff:ffff:ffff:ffff") == 429
    assert page("2001:db8:5:7::1") == 400, "the next /64 is another source"


def test_browser_pages_are_limited_per_source_address(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_RATE_LIMIT_BROWSER": "2"})
    statuses = [requests.get(server.base + "/authorize", params={"client_id": "x"}, timeout=10) for _ in range(8)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert limited[0].headers["Content-Type"].startswith("text/html") and "Retry-After" in limited[0].headers


# Trusted proxies, request ids and the audit log

def test_x_forwarded_for_is_believed_only_from_trusted_proxies(start_server, database, keys_dir):
    for trusted, header, expected in [(None, "203.0.113.7", "127.0.0.1"), ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
                                      ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"), ("127.0.0.1", "garbage", "127.0.0.1")]:
        env = {"TESSERA_TRUSTED_PROXIES": trusted} if trusted else {}
        server = start_server(args=["--migrate"], database=database, env=env)
        op = provider(server, database, keys_dir)
        client = service(op)
        response = requests.post(op.token_url, auth=(client["client_id"], client["client_secret"]),
                                 data={"grant_type": "client_credentials"}, headers={"X-Forwarded-For": header}, timeout=10)
        issued = [e for e in audit_events(server) if e["event"] == "token_issued"]
        assert issued[-1]["source"] == expected, (trusted, header, issued[-1])
        assert issued[-1]["request_id"] == response.headers["X-Request-ID"]
        server.stop()


def test_audit_events_are_recorded_without_secrets(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database)
    op = provider(server, database, keys_dir)
    client = service(op)
    access = token_request(op, client).json()["access_token"]
    token_request(op, client, secret="not-the-secret")
    web = refresh_client(op)
    web_consenting = op.client("--grant-types", "authorization_code refresh_token", scopes="openid offline_access")
    tokens, user = first_tokens(op, web)
    browser = Browser(op)
    page = browser.login_page(web_consenting, scope="openid offline_access")
    browser.login(page, user["username"], "wrong password")
    grant = browser.sign_in(web_consenting, user, scope="openid offline_access")
    redeem(op, grant)
    rotated = refresh(op, web, tokens["refresh_token"]).json()
    refresh(op, web, tokens["refresh_token"])  # reuse
    requests.post(op.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": access}, timeout=10)
    events = audit_events(server)
    kinds = {e["event"] for e in events}
    assert {"token_issued", "client_authentication_failed", "login_failed", "login_succeeded", "consent_granted",
            "refresh_reuse_detected", "family_revoked", "token_revoked"} <= kinds, kinds
    for event in events:
        assert event["time"].endswith("Z") and len(event["request_id"]) == 16 and event["source"].startswith("127."), event
    assert any(e["event"] == "token_issued" and e.get("jti") for e in events)
    everything = server.output()
    for secret in [client["client_secret"], user["password"], access, tokens["access_token"], tokens["refresh_token"],
                   tokens["id_token"], rotated["refresh_token"], grant.code, "not-the-secret", "wrong password"]:
        assert secret not in everything, f"a secret reached the logs: {secret[:12]}..."


# Metrics

def test_metrics_are_prometheus_text(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database)
    op = provider(server, database, keys_dir)
    client = service(op)
    for _ in range(3):
        token_request(op, client)
    for path in ("/random-1", "/random-2"):
        requests.get(server.base + path, timeout=5)
    response = requests.get(server.admin + "/metrics", timeout=5)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert re.match(r"^[a-z_0-9]+(\{[^}]*\})? -?[0-9.]+(e[+-]?[0-9]+)?$", line), line
    assert metric(text, "tessera_http_requests_total", {"endpoint": "/token", "status": "200"}) == 3
    assert metric(text, "tessera_tokens_issued_total", {"grant_type": "client_credentials"}) == 3
    assert metric(text, "tessera_http_request_duration_seconds_bucket", {"endpoint": "/token", "le": "+Inf"}) == \
        metric(text, "tessera_http_request_duration_seconds_count", {"endpoint": "/token"})
    assert "random" not in text and metric(text, "tessera_http_requests_total", {"endpoint": "other", "status": "404"}) == 2
    for name in ("tessera_db_pool_waiting", "tessera_revocations_synchronized"):
        assert metric(text, name) is not None, name
    for pool in ("clients", "logins"):
        assert metric(text, "tessera_argon2_queue_depth", {"pool": pool}) is not None, pool
    assert "tessera_signing_key_age_seconds{" in text and 'tessera_db_pool_connections{state="in_use"}' in text


def test_metrics_are_served_only_on_the_management_listener(start_server, database):
    port = free_port()
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_ADMIN_LISTEN": f"127.0.0.1:{port}"})
    admin = f"http://127.0.0.1:{port}"
    assert requests.get(admin + "/metrics", timeout=5).status_code == 200
    assert requests.get(admin + "/healthz", timeout=5).status_code == 200
    assert requests.get(admin + "/readyz", timeout=5).status_code == 200
    assert requests.get(server.base + "/metrics", timeout=5).status_code == 404, "key ids and pool statistics are not public"
    assert requests.get(server.base + "/healthz", timeout=5).status_code == 200, "load balancers probe the main listener"
    assert requests.get(server.base + "/readyz", timeout=5).status_code == 200
    assert requests.get(admin + "/token", timeout=5).status_code == 404, "the admin listener serves nothing else"


def test_off_turns_the_management_listener_off(start_server, database):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_ADMIN_LISTEN": "off"})
    assert server.admin is None
    assert requests.get(server.base + "/metrics", timeout=5).status_code == 404
    assert requests.get(server.base + "/healthz", timeout=5).status_code == 200


# Insecure settings

def serve_once(env, args=()):
    environment = {k: v for k, v in os.environ.items() if k != "TESSERA_ALLOW_INSECURE"}
    environment.update(env)
    return subprocess.run([tessera_bin(), "serve", "--listen", "127.0.0.1:0", *args], cwd=ROOT, env=environment,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


def test_serve_refuses_an_http_issuer_and_a_development_key_unless_allowed(database, keys_dir, start_server):
    refused = serve_once({"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir})
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "http://" in lines[0] and "TESSERA_ALLOW_INSECURE" in lines[0], refused.stderr
    marker = os.path.join(keys_dir, "kek.development")
    open(marker, "w").write("made by `tessera dev`\n")
    try:
        refused = serve_once({"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir, "TESSERA_ISSUER": "https://id.example.com"})
        assert refused.returncode == 2 and "tessera dev" in refused.stderr, refused.stderr
    finally:
        os.remove(marker)
    secure = start_server(args=["--migrate"], database=database, env={"TESSERA_ISSUER": "https://id.example.com",
                                                                      "TESSERA_ALLOW_INSECURE": ""})
    assert requests.get(secure.base + "/healthz", timeout=5).status_code == 200
    allowed = start_server(database=database, env={"TESSERA_ALLOW_INSECURE": "1"})
    assert requests.get(allowed.base + "/healthz", timeout=5).status_code == 200
    assert "serving an insecure configuration" in allowed.output()


# Database outage

def pg_ctl(*args):
    command = [os.path.join(os.environ["TESSERA_TEST_PGBIN"], "pg_ctl"), "-D", os.environ["TESSERA_TEST_PGDATA"], *args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


def start_cluster():
    sock = os.environ["TESSERA_TEST_PGSOCK"]
    pg_ctl("-l", os.environ["TESSERA_TEST_PGLOG"], "-w", "-t", "60", "start", "-o",
           f"-c listen_addresses='' -c unix_socket_directories='{sock}' -c fsync=off -c synchronous_commit=off "
           "-c full_page_writes=off -c max_connections=200")


def test_a_database_outage_keeps_what_can_work_working_and_recovers(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database)
    op = provider(server, database, keys_dir)
    client = service(op, token_format="opaque")
    resource_server = service(op, "--introspect-audiences", API)
    unseen = service(op)
    token = token_request(op, client).json()["access_token"]
    introspect = lambda: requests.post(server.base + "/introspect", auth=(resource_server["client_id"], resource_server["client_secret"]),
                                       data={"token": token}, timeout=10)
    assert introspect().json()["active"] is True
    deadline = time.time() + 10
    while metric(requests.get(server.admin + "/metrics", timeout=5).text, "tessera_revocations_synchronized") != 1:
        assert time.time() < deadline
        time.sleep(0.1)
    pg_ctl("-m", "fast", "-w", "stop")
    try:
        start = time.monotonic()
        ready = requests.get(server.base + "/readyz", timeout=10)
        assert ready.status_code == 503 and "Retry-After" in ready.headers and time.monotonic() - start < 3
        assert requests.get(server.base + "/.well-known/openid-configuration", timeout=5).status_code == 200
        assert requests.get(server.base + "/.well-known/jwks.json", timeout=5).status_code == 200
        assert token_request(op, client).status_code == 200, "a cached client still gets tokens"
        assert introspect().json()["active"] is True, "self-contained tokens are still introspected"
        start = time.monotonic()
        refused = token_request(op, unseen)
        assert time.monotonic() - start < 5, "no hanging request"
        assert refused.status_code == 503 and refused.json()["error"] == "temporarily_unavailable"
        assert "Retry-After" in refused.headers
    finally:
        start_cluster()
    deadline = time.time() + 15
    while requests.get(server.base + "/readyz", timeout=10).status_code != 200:
        assert time.time() < deadline, "the server did not recover by itself"
        time.sleep(0.2)
    assert token_request(op, unseen).status_code == 200


# Slow clients

def test_slow_clients_do_not_stop_normal_ones(start_server, database, keys_dir):
    # 300 slow connections from one address: more than one source may hold by default.
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_MAX_CONNECTIONS_PER_SOURCE": "1000"})
    op = provider(server, database, keys_dir)
    client = service(op)
    port = int(server.base.rsplit(":", 1)[1])
    slow = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for s in slow:
                try:
                    s.sendall(b"X")
                except OSError:
                    pass
            time.sleep(1)

    threading.Thread(target=trickle, daemon=True).start()
    try:
        for _ in range(10):
            start = time.monotonic()
            assert requests.get(server.base + "/healthz", timeout=5).status_code == 200
            assert token_request(op, client).status_code == 200
            assert time.monotonic() - start < 1.0
            time.sleep(0.5)
        # The header deadline (10 s from the first byte) closes the tricklers.
        time.sleep(7)
        closed = 0
        for s in slow:
            s.settimeout(0.5)
            try:
                s.recv(1024)  # a 408 or the end of the stream: the server is done with it
                closed += 1
            except socket.timeout:
                pass  # still open
            except OSError:
                closed += 1  # reset
        assert closed >= 290, f"only {closed} of 300 slow connections were closed"
    finally:
        stop.set()
        for s in slow:
            s.close()
