"""Shared fixtures: the built `tessera` binary, run as a real process on loopback.

The suite runs inside scripts/with-test-postgres.sh, so libpq's PG* variables name a
throwaway PostgreSQL cluster. Each test that needs a database gets a fresh one.
"""
import os
import socket
import subprocess
import time
import uuid

import pytest
import requests
from requests.adapters import HTTPAdapter

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Every server of the suite runs on plain http on loopback: say that this is deliberate
# (`tessera serve` refuses an http:// issuer otherwise). The test of that refusal unsets it.
os.environ.setdefault("TESSERA_ALLOW_INSECURE", "1")
# Servers the fixtures start get a management listener on a free port of their own; any other
# server a test starts takes an ephemeral one, so that no two ever compete for the default port.
os.environ.setdefault("TESSERA_ADMIN_LISTEN", "127.0.0.1:0")


class SourceAddress(HTTPAdapter):
    """Connects from a chosen loopback address, so that the server sees another peer."""

    def __init__(self, address, **kwargs):
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def tessera_bin():
    path = os.environ.get("TESSERA_BIN")
    if not path or not os.path.exists(path):
        pytest.fail("TESSERA_BIN must name the built tessera binary")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql, database="postgres"):
    subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", database, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


@pytest.fixture
def database():
    """A fresh, empty database; yields its name and drops it afterwards."""
    name = "e2e_" + uuid.uuid4().hex[:12]
    psql(f'CREATE DATABASE "{name}"')
    yield name
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def wait_until_serving(url, process, timeout=30, log=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            if log:
                out = open(log).read()[-5000:]
            else:
                out = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"tessera exited early with {process.returncode}: {out}")
        try:
            requests.get(url + "/healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("tessera did not start listening in time")


class Server:
    def __init__(self, process, base, log=None, admin=None):
        self.process = process
        self.base = base
        self.log = log
        # The management listener (/metrics), on loopback and a port of its own.
        self.admin = admin

    def output(self):
        """Everything the server wrote so far: operational log and audit lines."""
        return open(self.log).read() if self.log else ""

    def stop(self, sig=15, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return self.process.returncode


@pytest.fixture
def keys_dir(tmp_path):
    """A keys folder holding a fresh key-encryption key."""
    folder = tmp_path / "keys"
    subprocess.run([tessera_bin(), "keys", "init", "--keys-dir", str(folder)], check=True, capture_output=True)
    return str(folder)


@pytest.fixture
def start_server(keys_dir, tmp_path):
    """Starts `tessera serve` on a free port with extra arguments and environment.

    The server writes to a file (`Server.output()`): an unread pipe would fill up and stall it.
    """
    servers = []

    def start(args=(), env=None, database=None):
        port = free_port()
        environment = dict(os.environ)
        environment.setdefault("TESSERA_KEYS_DIR", keys_dir)
        # Rate limits are off unless a test sets them: other tests must not depend on them.
        for limit in ("TOKEN", "INTROSPECTION", "REVOCATION", "TOKEN_FAILURES", "BROWSER"):
            environment.setdefault(f"TESSERA_RATE_LIMIT_{limit}", "0")
        if database:
            environment["PGDATABASE"] = database
        environment["TESSERA_ADMIN_LISTEN"] = f"127.0.0.1:{free_port()}"
        environment.update(env or {})
        admin = environment["TESSERA_ADMIN_LISTEN"]
        log = str(tmp_path / f"tessera-{port}.log")
        with open(log, "w") as output:
            process = subprocess.Popen(
                [tessera_bin(), "serve", "--listen", f"127.0.0.1:{port}", *args],
                cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, text=True)
        server = Server(process, f"http://127.0.0.1:{port}", log, admin=None if admin == "off" else f"http://{admin}")
        servers.append(server)
        wait_until_serving(server.base, process, log=log)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
