"""Tessera on a highly available PostgreSQL: the primary is killed under load, then switched over.

scripts/ha/cluster.sh starts one etcd, three PostgreSQL nodes managed by Patroni with synchronous
replication, HAProxy in front of the primary and PgBouncer (transaction mode) behind it. Two Tessera
instances serve behind HAProxy: one reaches PostgreSQL through a multi-host URL
(target_session_attrs=read-write), the other through PgBouncer, with a direct multi-host URL for
LISTEN. Under mixed load (browser logins, code redemptions, refreshes, revocations, introspection,
client_credentials, JWKS and discovery) the primary node (its Patroni and every PostgreSQL process)
is killed with SIGKILL; once writes are back, a planned switchover follows.

Checked: reads answer 200 throughout; writes answer 503 temporarily_unavailable during each
election and come back by themselves (the time is printed); nothing acknowledged is lost (every
acknowledged rotation's successor still rotates on the new primary, every acknowledged revocation
is in force, no code is redeemed twice, no family has two live successors); a rotation retried after
an unknown outcome follows the documented strict-reuse rule; and no session state (an advisory
lock) is left on the pooler's server connections.

Run by `make test-ha` (scripts/ha/run-tests.sh), not by `make test`.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "EndToEnd"))

from conftest import free_port, keys_dir, start_server  # noqa: E402,F401  (fixtures)
from test_authorization_code import Browser, Grant, Page, Provider, redeem, redirected_to, request_params  # noqa: E402
from test_load_balanced import haproxy_config  # noqa: E402
from test_refresh import psql_rows  # noqa: E402

API = "https://api.example.com"
LOAD_BEFORE_KILL = 6
LOAD_AFTER_RECOVERY = 4
LOAD_AFTER_SWITCHOVER = 5
# The goal is writes back within 15 s of the primary's death (Patroni ttl 10 s, loop_wait 1 s);
# the test fails only past this much, so that a loaded machine does not fail it.
RECOVERY_LIMIT = 40


class Cluster:
    def __init__(self, folder):
        self.folder = folder
        values = {}
        with open(os.path.join(folder, "env")) as env:
            for line in env:
                name, _, value = line.strip().partition("=")
                values[name] = value.strip('"')
        self.hosts = values["HA_HOSTS"]
        self.primary_port = int(values["HA_PRIMARY_PORT"])
        self.bouncer_port = int(values["HA_BOUNCER_PORT"])
        self.rest_ports = [int(p) for p in values["HA_REST_PORTS"].split()]

    def url(self, database):
        return f"postgresql://{self.hosts}/{database}?user=postgres&target_session_attrs=read-write&connect_timeout=2"

    def members(self):
        for port in self.rest_ports:
            try:
                return requests.get(f"http://127.0.0.1:{port}/cluster", timeout=2).json()["members"]
            except (requests.RequestException, ValueError, KeyError):
                continue
        return []

    def leader(self):
        return next((m for m in self.members() if m["role"] == "leader" and m.get("state") == "running"), None)

    def wait_for_sync_standby(self, timeout=60):
        """Waits for a running leader and a running synchronous standby; returns both names."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            members = self.members()
            leader = next((m["name"] for m in members if m["role"] == "leader" and m.get("state") == "running"), None)
            standby = next((m["name"] for m in members if m["role"] == "sync_standby" and m.get("state") in ("running", "streaming")), None)
            if leader and standby:
                return leader, standby
            time.sleep(0.2)
        raise AssertionError(f"no leader with a synchronous standby: {self.members()}")

    def kill_primary(self):
        """SIGKILL to the primary node's Patroni and every one of its PostgreSQL processes at once."""
        leader = self.leader()
        assert leader, f"no leader: {self.members()}"
        node = os.path.join(self.folder, leader["name"])
        patroni = int(open(os.path.join(node, "patroni.pid")).read())
        postmaster = int(open(os.path.join(node, "data", "postmaster.pid")).readline())
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True).stdout.split()
        for pid in [patroni, postmaster, *map(int, children)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return leader["name"]

    def switchover(self):
        leader, standby = self.wait_for_sync_standby()
        api = next(m["api_url"] for m in self.members() if m["name"] == leader).rsplit("/", 1)[0]
        answer = requests.post(api + "/switchover", json={"leader": leader, "candidate": standby}, timeout=60)
        assert answer.status_code == 200, answer.text
        return leader, standby


@pytest.fixture(scope="module")
def cluster():
    # Not under pytest's private temporary folder: the postgres user must reach it.
    parent = tempfile.mkdtemp(prefix="tessera-ha.")
    os.chmod(parent, 0o755)
    folder = os.path.join(parent, "cluster")
    script = os.path.join(ROOT, "scripts", "ha", "cluster.sh")
    started = subprocess.run([script, "start", folder], capture_output=True, text=True, timeout=240)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        cluster = Cluster(folder)
        psql_rows(f"postgresql://127.0.0.1:{cluster.primary_port}/postgres?user=postgres", "CREATE DATABASE tessera")
        yield cluster
    finally:
        subprocess.run([script, "stop", folder], timeout=120)
        shutil.rmtree(parent, ignore_errors=True)


class Record:
    """Every outcome with its time, by kind: reads must never fail; writes may answer 503 while
    no primary is elected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.reads = 0
        self.read_failures = []
        self.writes = []            # (time, ok)
        self.wrong = []             # answers that are not the protocol's
        self.redeemed = {}          # code -> successful redemptions
        self.revoked = []           # acknowledged revocations (opaque access tokens)
        self.live_chains = []       # the last acknowledged refresh token of each chain
        self.reused_chains = []     # chains ended by the strict-reuse rule after an unknown outcome

    def read(self, what, response):
        with self.lock:
            if isinstance(response, requests.Response) and response.status_code == 200:
                self.reads += 1
            else:
                detail = repr(response) if not isinstance(response, requests.Response) else f"{response.status_code} {response.text[:120]}"
                self.read_failures.append((time.monotonic(), what, detail))

    def write(self, what, response, expected=(200,)):
        """Records a write; returns True when it succeeded, False when it was refused as unavailable."""
        now = time.monotonic()
        with self.lock:
            if isinstance(response, requests.Response) and response.status_code in expected:
                self.writes.append((now, True))
                return True
            if isinstance(response, requests.Response) and unavailable(response):
                self.writes.append((now, False))
                return False
            detail = repr(response) if not isinstance(response, requests.Response) else f"{response.status_code} {response.text[:200]}"
            self.wrong.append((now, what, detail))
            return False


def unavailable(response):
    """503 temporarily_unavailable (JSON or page), or the authorization endpoint's redirect saying so."""
    if response.status_code == 503:
        return "Retry-After" in response.headers
    if response.status_code in (302, 303):
        return "error=temporarily_unavailable" in response.headers.get("Location", "")
    return False


def send(request):
    try:
        return request()
    except requests.RequestException as error:
        return error


def step(record, what, response, expected):
    """Whether a step of the browser flow answered as expected (a redirect carrying an error does
    not); otherwise the refusal (or the wrong answer) is recorded."""
    if isinstance(response, requests.Response) and response.status_code in expected \
            and "error=" not in response.headers.get("Location", ""):
        return True
    record.write(what, response)
    return False


def sign_in(record, op, client, user):
    """A browser login; the Grant, or None when a step was refused as unavailable."""
    browser = Browser(op)
    params, verifier = request_params(client, scope="openid offline_access")
    response = send(lambda: browser.authorize(params))
    if not step(record, "authorize", response, (200,)):
        return None
    data = Page(response).form("/login").hidden()
    data.update(username=user["username"], password=user["password"])
    response = send(lambda: browser.http.post(op.base + "/login", data=data, allow_redirects=False, timeout=15))
    if not step(record, "login", response, (302, 303)):
        return None
    record.write("login", response, expected=(302, 303))
    return Grant(client, params, verifier, redirected_to(response, params["redirect_uri"]))


def refresh(op, client, token):
    return send(lambda: requests.post(op.token_url, data={"grant_type": "refresh_token", "client_id": client["client_id"],
                                                           "refresh_token": token}, timeout=15))


def test_killing_the_primary_under_load_loses_nothing_acknowledged(cluster, start_server, keys_dir, tmp_path):
    direct = cluster.url("tessera")
    pooled = f"postgresql://127.0.0.1:{cluster.bouncer_port}/tessera?user=postgres&connect_timeout=2"
    front = free_port()
    issuer = f"http://127.0.0.1:{front}"
    common = {"TESSERA_ISSUER": issuer, "TESSERA_TRUSTED_PROXIES": "127.0.0.1", "TESSERA_JANITOR_INTERVAL": "2s"}
    servers = [
        start_server(args=["--migrate"], env={**common, "TESSERA_DATABASE_URL": direct}),
        start_server(env={**common, "TESSERA_DATABASE_URL": pooled, "TESSERA_DB_POOLER": "transaction",
                          "TESSERA_LISTEN_DATABASE_URL": direct}),
    ]
    # The balancer checks liveness: an election makes every instance unready at once, and taking
    # them all out would turn a write outage into a total one (see README, "Running at scale").
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(front, [int(s.base.rsplit(":", 1)[1]) for s in servers]).replace("GET /readyz", "GET /healthz"))
    proxy = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_load(cluster, servers, Provider(issuer, {"TESSERA_DATABASE_URL": direct, "TESSERA_KEYS_DIR": keys_dir}, issuer=issuer))
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(10)


def run_load(cluster, servers, op):
    deadline = time.time() + 10
    while not isinstance(send(lambda: requests.get(op.base + "/readyz", timeout=1)), requests.Response):
        assert time.time() < deadline, "HAProxy did not come up"
        time.sleep(0.1)
    jwt_client = op.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read", "--audiences", API)
    opaque_client = op.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read", "--audiences", API,
                                "--token-format", "opaque")
    resource = op.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read", "--audiences", API,
                           "--introspect-audiences", API)
    # Strict reuse (no grace window): a rotation retried after an unknown outcome revokes its family.
    web = op.client("--grant-types", "authorization_code refresh_token", "--skip-consent", "true", scopes="openid offline_access")
    user = op.user()
    record = Record()

    def token(client):
        return send(lambda: requests.post(op.token_url, auth=(client["client_id"], client["client_secret"]),
                                          data={"grant_type": "client_credentials"}, timeout=15))

    # Every instance has verified the secrets once (the cached path is what must survive).
    for server in servers:
        for client in (jwt_client, opaque_client, resource):
            assert requests.post(server.base + "/token", auth=(client["client_id"], client["client_secret"]),
                                 data={"grant_type": "client_credentials"}, timeout=15).status_code == 200
    introspected = token(opaque_client).json()["access_token"]

    def reads_of_tokens(client):
        while not record.stop.is_set():
            record.read("client_credentials", token(client))

    def reads_of_introspection():
        while not record.stop.is_set():
            response = send(lambda: requests.post(op.base + "/introspect", auth=(resource["client_id"], resource["client_secret"]),
                                                  data={"token": introspected}, timeout=15))
            if isinstance(response, requests.Response) and response.status_code == 200 and response.json().get("active") is not True:
                record.wrong.append((time.monotonic(), "introspection", response.text))
            record.read("introspection", response)

    def reads_of_documents():
        while not record.stop.is_set():
            for path in ("/.well-known/jwks.json", "/.well-known/openid-configuration"):
                record.read(path, send(lambda: requests.get(op.base + path, timeout=15)))
            time.sleep(0.05)

    def browser_flows():
        while not record.stop.is_set():
            grant = sign_in(record, op, web, user)
            if grant is None:
                time.sleep(0.2)
                continue
            response = send(lambda: redeem(op, grant))
            if not record.write("code redemption", response):
                # Unknown outcome: the retry either redeems it (the first did not commit) or is refused
                # as a replay (it did); never both.
                time.sleep(0.5)
                response = send(lambda: redeem(op, grant))
                if not record.write("code redemption retried", response, expected=(200, 400)):
                    continue
                if response.status_code == 400:
                    if response.json().get("error") != "invalid_grant":
                        record.wrong.append((time.monotonic(), "code retry", response.text))
                    continue
            with record.lock:
                record.redeemed[grant.code] = record.redeemed.get(grant.code, 0) + 1
            rotate(response.json()["refresh_token"])

    def rotate(current):
        uncertain = False
        for _ in range(6):
            if record.stop.is_set():
                break
            response = refresh(op, web, current)
            if isinstance(response, requests.Response) and response.status_code == 400 and uncertain \
                    and response.json().get("error") == "invalid_grant":
                # The documented strict-reuse outcome: the attempt whose answer was lost had rotated the token.
                record.write("refresh after an unknown outcome", response, expected=(400,))
                with record.lock:
                    record.reused_chains.append(current)
                return
            if record.write("refresh", response):
                current = response.json()["refresh_token"]
                uncertain = False
            else:
                uncertain = True
                time.sleep(0.2)
        with record.lock:
            if uncertain:
                record.reused_chains.append(current)  # judged below: either outcome is allowed
            else:
                record.live_chains.append(current)

    def revocations():
        while not record.stop.is_set():
            issued = token(opaque_client)
            record.read("client_credentials", issued)
            if not isinstance(issued, requests.Response) or issued.status_code != 200:
                continue
            access = issued.json()["access_token"]
            response = send(lambda: requests.post(op.base + "/revoke", auth=(opaque_client["client_id"], opaque_client["client_secret"]),
                                                  data={"token": access}, timeout=15))
            if record.write("revocation", response):
                with record.lock:
                    record.revoked.append(access)
            else:
                time.sleep(0.2)

    workers = [threading.Thread(target=reads_of_tokens, args=(jwt_client,)), threading.Thread(target=reads_of_tokens, args=(opaque_client,)),
               threading.Thread(target=reads_of_introspection), threading.Thread(target=reads_of_documents),
               threading.Thread(target=browser_flows), threading.Thread(target=browser_flows), threading.Thread(target=revocations)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(LOAD_BEFORE_KILL)
        killed_at = time.monotonic()
        killed = cluster.kill_primary()
        recovered_after_kill = wait_for_writes(record, killed_at)
        time.sleep(LOAD_AFTER_RECOVERY)
        switch_started = time.monotonic()
        old, new = cluster.switchover()
        recovered_after_switchover = wait_for_writes(record, switch_started)
        time.sleep(LOAD_AFTER_SWITCHOVER)
    finally:
        record.stop.set()
        for worker in workers:
            worker.join(60)

    failed_writes = [t for t, ok in record.writes if not ok]
    last_failure_after_kill = max((t - killed_at for t in failed_writes if killed_at <= t < switch_started), default=0)
    last_failure_after_switch = max((t - switch_started for t in failed_writes if t >= switch_started), default=0)
    print(f"\nkilled {killed}: writes back {recovered_after_kill:.1f} s after the kill (last refused write at "
          f"+{last_failure_after_kill:.1f} s); switchover {old} -> {new}: writes back after {recovered_after_switchover:.1f} s "
          f"(last refused at +{last_failure_after_switch:.1f} s); {record.reads} reads and {len(record.writes)} writes, "
          f"{len(failed_writes)} writes refused as unavailable, {len(record.read_failures)} reads failed")

    assert record.wrong == [], f"answers that were not the protocol's: {record.wrong[:5]}"
    assert record.read_failures == [], f"reads failed: {record.read_failures[:5]}"
    early = [t - killed_at for t in failed_writes if t < killed_at - 0.5]
    assert early == [], f"writes refused before the kill: {early[:5]}"
    assert last_failure_after_kill <= RECOVERY_LIMIT, f"writes refused {last_failure_after_kill:.1f} s after the kill"
    assert last_failure_after_switch <= RECOVERY_LIMIT, f"writes refused {last_failure_after_switch:.1f} s after the switchover"
    assert record.reads > 100 and len(record.writes) > 30, f"too little load: {record.reads} reads, {len(record.writes)} writes"

    check_invariants(cluster, servers, op, web, resource, record)


def wait_for_writes(record, since, timeout=RECOVERY_LIMIT + 20):
    """Seconds from `since` to the first write acknowledged after the last refused one (writes are back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with record.lock:
            after = [(t, ok) for t, ok in record.writes if t >= since]
        refused = [t for t, ok in after if not ok]
        succeeded = [t for t, ok in after if ok and (not refused or t > max(refused))]
        # Back when a write succeeded after the last refusal and nothing was refused since for a second.
        if refused and succeeded and time.monotonic() - max(refused) > 1:
            return min(succeeded) - since
        if not refused and len(succeeded) >= 3 and time.monotonic() - since > 3:
            return 0.0
        time.sleep(0.1)
    raise AssertionError(f"writes did not come back within {timeout} s")


def check_invariants(cluster, servers, op, web, resource, record):
    database = cluster.url("tessera")
    # No refresh family with two live successors, and generations without gaps.
    assert psql_rows(database, "SELECT family_id FROM refresh_tokens WHERE used_at IS NULL GROUP BY family_id HAVING count(*) > 1") == []
    assert psql_rows(database, "SELECT family_id FROM refresh_tokens GROUP BY family_id "
                               "HAVING max(generation) <> count(*) OR min(generation) <> 1") == []
    # No code redeemed twice.
    assert record.redeemed and all(count == 1 for count in record.redeemed.values()), record.redeemed
    # Every acknowledged rotation survived the failovers: its successor still rotates on the new primary.
    assert record.live_chains, "no refresh chain completed"
    for token in record.live_chains:
        response = refresh(op, web, token)
        assert isinstance(response, requests.Response) and response.status_code == 200, \
            f"an acknowledged refresh token was lost: {getattr(response, 'text', response)}"
    # A chain whose last rotation had an unknown outcome rotates (it did not commit) or is refused as
    # reuse (it did, and the family is revoked), as documented; never anything else.
    for token in record.reused_chains:
        response = refresh(op, web, token)
        assert isinstance(response, requests.Response) and (response.status_code == 200 or
                                                            response.json().get("error") == "invalid_grant"), response
    # Every acknowledged revocation is in force on every instance.
    assert record.revoked, "no revocation was acknowledged"
    for server in servers:
        for access in record.revoked:
            answer = requests.post(server.base + "/introspect", auth=(resource["client_id"], resource["client_secret"]),
                                   data={"token": access}, timeout=15).json()
            assert answer == {"active": False}, f"{server.base} says {answer} of a revoked token"
    # No session state left on the pooler's server connections (the janitor ran every 2 s through it).
    assert psql_rows(database, "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                               "WHERE l.locktype = 'advisory' AND a.state = 'idle'") == []
    # The instances answer as before.
    for server in servers:
        assert requests.get(server.base + "/readyz", timeout=10).status_code == 200
