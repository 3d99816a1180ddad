"""The foundation seen from outside: CLI, configuration, health, migrations, dev mode."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import ROOT, free_port, psql, tessera_bin, wait_until_serving


def run(args, env=None, timeout=60):
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run([tessera_bin(), *args], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("command", ["serve", "migrate", "dev"])
def test_every_command_has_help(command):
    result = run([command, "--help"])
    assert result.returncode == 0
    assert "USAGE" in result.stdout.upper()


@pytest.mark.parametrize("args,setting", [
    (["--listen", "localhost:80"], "TESSERA_LISTEN"),
    (["--listen", "127.0.0.1:99999"], "TESSERA_LISTEN"),
    (["--issuer", "ftp://example.com"], "TESSERA_ISSUER"),
    (["--issuer", "https://example.com/?x=1"], "TESSERA_ISSUER"),
    (["--log-level", "loud"], "TESSERA_LOG_LEVEL"),
    (["--database-url", "mysql://x"], "TESSERA_DATABASE_URL"),
    (["--code-ttl", "11m"], "TESSERA_CODE_TTL"),
    (["--db-pool-size=0"], "TESSERA_DB_POOL_SIZE"),
    (["--rate-limit-browser", "-1"], "TESSERA_RATE_LIMIT_BROWSER"),
    (["--admin-listen", "nowhere"], "TESSERA_ADMIN_LISTEN"),
    (["--trusted-proxies", "10.0.0.0/33"], "TESSERA_TRUSTED_PROXIES"),
    (["--argon2-iterations", "0"], "TESSERA_ARGON2_MEMORY_KIB"),
    (["--max-connections-per-source", "many"], "TESSERA_MAX_CONNECTIONS_PER_SOURCE"),
])
def test_bad_configuration_fails_at_start_with_one_line_naming_the_setting(args, setting):
    result = run(["serve", *args])
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert setting in lines[0]


def test_environment_variables_configure_like_flags():
    result = run(["serve"], env={"TESSERA_LISTEN": "nonsense"})
    assert result.returncode == 2
    assert "TESSERA_LISTEN" in result.stderr


def readme_settings():
    """The README's generated settings tables: (variable, flag) of every row, and the text between the markers."""
    with open(os.path.join(ROOT, "README.md")) as readme:
        text = readme.read()
    block = text.split("<!-- settings: begin -->", 1)[1].split("<!-- settings: end -->", 1)[0]
    rows = re.findall(r"^\| `(TESSERA_[A-Z0-9_]+)` \| `(--[a-z0-9-]+)` \|", block, re.MULTILINE)
    return rows, block


def test_readme_settings_tables_are_what_tessera_config_prints():
    rows, block = readme_settings()
    assert len(rows) >= 30
    result = run(["config", "--markdown"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == block.strip()


@pytest.mark.parametrize("command", ["serve", "dev"])
def test_help_lists_every_setting_with_its_flag_and_variable(command):
    rows, _ = readme_settings()
    help_text = run([command, "--help"]).stdout
    for variable, flag in rows:
        assert re.search(rf"^\s+{re.escape(flag)} <", help_text, re.MULTILINE), flag
        assert f"Variable {variable};" in help_text, variable


@pytest.mark.parametrize("command", ["serve", "dev", "migrate"])
def test_no_option_of_a_command_hides_a_setting_flag(command):
    """A command's own option of the same name would take the flag before the settings see it."""
    settings = {flag for _, flag in readme_settings()[0]}
    options = run([command, "--help"]).stdout.split("\nOPTIONS:\n", 1)[1]
    own = set(re.findall(r"^  (--[a-z0-9-]+)", options, re.MULTILINE))
    if command == "migrate":
        own -= {"--database-url", "--log-level"}  # migrate's subset of the settings, read by the same table
    assert own and not own & settings, own & settings


@pytest.mark.parametrize("args", [["--no-such-setting", "1"], ["--listen"], ["stray"]])
def test_an_unknown_setting_flag_is_a_usage_error(args):
    result = run(["serve", *args])
    assert result.returncode == 64, result.stderr
    assert args[0] in result.stderr and "configuration error" not in result.stderr


def test_settings_given_as_flags_win_over_their_variables(start_server, database):
    """Variables that would stop the server at start are not read when their flags are given."""
    admin = free_port()
    server = start_server(args=["--migrate", "--admin-listen", f"127.0.0.1:{admin}", "--db-pool-size=2", "--log-level", "warning"],
                          database=database, env={"TESSERA_ADMIN_LISTEN": "nowhere", "TESSERA_DB_POOL_SIZE": "0",
                                                  "TESSERA_LOG_LEVEL": "loud"})
    assert requests.get(server.base + "/readyz", timeout=10).status_code == 200
    assert requests.get(f"http://127.0.0.1:{admin}/metrics", timeout=10).status_code == 200
    assert server.stop() == 0
    assert '"level":"info"' not in server.output()


def test_migrate_applies_once_and_is_idempotent(database):
    env = {"PGDATABASE": database}
    first = run(["migrate"], env=env)
    assert first.returncode == 0, first.stderr
    second = run(["migrate"], env=env)
    assert second.returncode == 0, second.stderr
    assert '"applied_now":"0"' in second.stderr
    out = subprocess.run(["psql", "-tA", "-d", database, "-c", "SELECT count(*) FROM schema_migrations"],
                         capture_output=True, text=True, check=True)
    applied = int(out.stdout.strip())
    on_disk = len([f for f in os.listdir(os.path.join(ROOT, "Migrations")) if f.endswith(".sql")])
    assert applied == on_disk


def test_edited_migration_is_refused(database, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_create_widgets.sql").write_text("CREATE TABLE widgets (id int);\n")
    env = {"PGDATABASE": database}
    assert run(["migrate", "--migrations-dir", str(folder)], env=env).returncode == 0
    (folder / "0001_create_widgets.sql").write_text("CREATE TABLE widgets (id bigint);\n")
    result = run(["migrate", "--migrations-dir", str(folder)], env=env)
    assert result.returncode != 0
    assert "0001" in result.stderr and "edited" in result.stderr


def test_health_readiness_and_routing(start_server, database):
    server = start_server(args=["--migrate"], database=database)
    r = requests.get(server.base + "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(server.base + "/readyz")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert requests.get(server.base + "/nope").status_code == 404
    r = requests.post(server.base + "/healthz")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    r = requests.head(server.base + "/healthz")
    assert r.status_code == 200 and r.content == b""
    assert "Date" in r.headers
    assert server.stop() == 0


def test_readyz_is_503_when_postgres_is_unreachable(start_server):
    server = start_server(env={"TESSERA_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"})
    assert requests.get(server.base + "/healthz").status_code == 200
    started = time.time()
    r = requests.get(server.base + "/readyz", timeout=10)
    assert r.status_code == 503
    assert time.time() - started < 5
    assert server.stop() == 0


def test_sigterm_lets_a_request_in_flight_finish(start_server, database):
    """Graceful shutdown: a request whose body is still arriving when SIGTERM comes gets its answer."""
    server = start_server(args=["--migrate"], database=database)
    port = int(server.base.rsplit(":", 1)[1])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)  # connection is established and served once
    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    server.process.send_signal(signal.SIGTERM)
    data = b""
    s.settimeout(10)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.1 503")
    assert server.process.wait(timeout=20) == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base + "/healthz", timeout=2)


def wait_for_line(lines, fragment, process, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in list(lines):
            if fragment in line:
                return line
        assert process.poll() is None, "".join(lines)
        time.sleep(0.05)
    raise AssertionError(f"no line containing {fragment!r} in {''.join(lines)!r}")


def wait_until_accepting(port, process, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.005)
    raise AssertionError("the port never accepted")


def test_dev_runs_a_private_cluster_and_reuses_it():
    """`tessera dev`: initdb on first use, migrate, serve; Ctrl-C stops both; a second run reuses the data."""
    state = tempfile.mkdtemp(prefix="tessera-dev-", dir="/tmp")
    os.chmod(state, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    try:
        for attempt in range(2):
            port = free_port()
            process = subprocess.Popen(
                # https and mTLS on free ports too (test_tls.py covers them), never the fixed defaults.
                [tessera_bin(), "dev", "--data-dir", os.path.join(state, ".data"), "--listen", f"127.0.0.1:{port}",
                 "--dev-https-listen", f"127.0.0.1:{free_port()}", "--dev-mtls-listen", f"127.0.0.1:{free_port()}"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
            reader.start()
            base = f"http://127.0.0.1:{port}"
            if attempt == 0:
                wait_until_serving(base, process, timeout=90)
                r = requests.get(base + "/readyz", timeout=10)
                assert r.status_code == 200, r.text
                # The printed command for the demo client works as printed.
                command = wait_for_line(lines, "curl -s -u demo-service:", process)
                credentials = re.search(r"-u (demo-service:\S+)", command).group(1).split(":", 1)
                r = requests.post(base + "/token", auth=tuple(credentials),
                                  data={"grant_type": "client_credentials", "scope": "demo:read"}, timeout=10)
                assert r.status_code == 200, r.text
                assert r.json()["scope"] == "demo:read"
            else:
                # Ctrl-C the moment the port accepts, while the server is still finishing its
                # start (seeding the demo client): it must still stop cleanly.
                wait_until_accepting(port, process, timeout=90)
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=60) == 0
            reader.join(timeout=5)
            output = "".join(lines)
            if attempt == 0:
                assert "initialising" in output
            else:
                assert "initialising" not in output
            assert "stopping PostgreSQL" in output
            assert not os.path.exists(os.path.join(state, ".data", "postgres", "data", "postmaster.pid"))
    finally:
        shutil.rmtree(state, ignore_errors=True)
