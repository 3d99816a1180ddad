"""TLS and mutual TLS served by Tessera itself, driven by clients we did not write.

Certificates are made per run with Python `cryptography`: a CA, a server certificate, client
certificates (good, expired, from an unknown CA, self-signed). Clients: requests, Python's ssl,
curl, openssl s_client, HAProxy terminating mTLS in front of Tessera, and Apache's
mod_auth_openidc introspecting over https as an RFC 7662 resource server.
"""
import base64
import datetime
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import ROOT, free_port, psql, tessera_bin

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


class PKI:
    """A CA and the certificates the tests present, written as PEM files into a folder."""

    def __init__(self, folder):
        self.folder = folder
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tessera E2E CA")])
        self.ca = self.issue(self.ca_name, self.ca_key, ca=True)
        self.write("ca.pem", self.pem(self.ca))
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Unknown CA")])
        self.other = (self.issue(self.other_name, other_key, ca=True, issuer=(self.other_name, other_key)), other_key)
        self.serial = 0

    def path(self, name):
        return os.path.join(self.folder, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    @staticmethod
    def pem(certificate):
        return certificate.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    def issue(self, subject, key, *, ca=False, issuer=None, sans=(), eku=None, not_before=None, not_after=None):
        issuer_name, issuer_key = issuer or (self.ca_name, self.ca_key)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(not_before or NOW - DAY)
                   .not_valid_after(not_after or NOW + 30 * DAY)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def server(self, name, cn="localhost", expired=False, key=None):
        """A server certificate for 127.0.0.1 and localhost: (certificate path, key path, certificate)."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        certificate = self.issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), key,
                                 sans=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                                 eku=[ExtendedKeyUsageOID.SERVER_AUTH],
                                 not_before=NOW - 30 * DAY if expired else None, not_after=NOW - DAY if expired else None)
        return self.write(name + ".pem", self.pem(certificate)), self.write(name + ".key", self.key_pem(key)), certificate

    def client(self, name, kind="good"):
        """A client certificate: good, expired, unknown-ca or self-signed; returns (cert path, key path, certificate)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        eku = [ExtendedKeyUsageOID.CLIENT_AUTH]
        sans = [x509.UniformResourceIdentifier(f"spiffe://tessera.test/{name}")]
        if kind == "expired":
            certificate = self.issue(subject, key, eku=eku, sans=sans, not_before=NOW - 30 * DAY, not_after=NOW - DAY)
        elif kind == "unknown-ca":
            certificate = self.issue(subject, key, eku=eku, sans=sans, issuer=(self.other_name, self.other[1]))
        elif kind == "self-signed":
            certificate = self.issue(subject, key, eku=eku, sans=sans, issuer=(subject, key))
        else:
            certificate = self.issue(subject, key, eku=eku, sans=sans)
        return self.write(name + ".pem", self.pem(certificate)), self.write(name + ".key", self.key_pem(key)), certificate


def thumbprint(certificate):
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


class TLSServer:
    """`tessera serve` over https with an mTLS listener, on a fresh database."""

    def __init__(self, folder, pki, env=None):
        self.folder = folder
        self.pki = pki
        self.database = "e2e_" + uuid.uuid4().hex[:12]
        psql(f'CREATE DATABASE "{self.database}"')
        keys = os.path.join(folder, "keys")
        subprocess.run([tessera_bin(), "keys", "init", "--keys-dir", keys], check=True, capture_output=True)
        self.certificate, self.key, self.server_certificate = pki.server("server")
        self.port, self.mtls_port, self.admin_port = free_port(), free_port(), free_port()
        self.base = f"https://127.0.0.1:{self.port}"
        self.mtls = f"https://127.0.0.1:{self.mtls_port}"
        self.admin = f"http://127.0.0.1:{self.admin_port}"
        self.env = {"PGDATABASE": self.database, "TESSERA_KEYS_DIR": keys}
        environment = dict(os.environ)
        environment.update(self.env)
        environment.update({
            "TESSERA_TLS_CERT": self.certificate, "TESSERA_TLS_KEY": self.key, "TESSERA_TLS_CLIENT_CA": pki.path("ca.pem"),
            "TESSERA_MTLS_LISTEN": f"127.0.0.1:{self.mtls_port}", "TESSERA_ADMIN_LISTEN": f"127.0.0.1:{self.admin_port}",
            "TESSERA_LOG_LEVEL": "debug",
        })
        for limit in ("TOKEN", "INTROSPECTION", "REVOCATION", "TOKEN_FAILURES", "BROWSER"):
            environment[f"TESSERA_RATE_LIMIT_{limit}"] = "0"
        environment.update(env or {})
        self.log = os.path.join(folder, "tessera.log")
        with open(self.log, "w") as output:
            self.process = subprocess.Popen([tessera_bin(), "serve", "--listen", f"127.0.0.1:{self.port}", "--migrate"],
                                            cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 60
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"tessera exited with {self.process.returncode}: {self.output()[-3000:]}")
            try:
                requests.get(self.base + "/healthz", verify=pki.path("ca.pem"), timeout=2)
                break
            except requests.exceptions.ConnectionError:
                if time.time() > deadline:
                    raise AssertionError("tessera did not serve https in time: " + self.output()[-3000:])
                time.sleep(0.1)

    def output(self):
        return open(self.log).read()

    def cli_json(self, *args):
        environment = dict(os.environ)
        environment.update(self.env)
        result = subprocess.run([tessera_bin(), *args, "--json"], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def metrics(self):
        return requests.get(self.admin + "/metrics", timeout=10).text

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        psql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return PKI(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def server(tmp_path_factory, pki):
    server = TLSServer(str(tmp_path_factory.mktemp("tls")), pki)
    yield server
    server.stop()


def metric(text, name, **labels):
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    match = re.search(rf"^{re.escape(name)}{{{re.escape(selector)}}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_https_main_listener_with_requests_curl_and_discovery(server, pki):
    ca = pki.path("ca.pem")
    r = requests.get(server.base + "/.well-known/openid-configuration", verify=ca, timeout=10)
    assert r.status_code == 200
    document = r.json()
    assert document["issuer"] == server.base, "with TLS configured the default issuer is https"
    aliases = document["mtls_endpoint_aliases"]
    assert aliases["token_endpoint"] == f"{server.mtls}/token"
    assert aliases["introspection_endpoint"] == f"{server.mtls}/introspect"
    result = subprocess.run(["curl", "-sS", "--cacert", ca, "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                             server.base + "/healthz"], capture_output=True, text=True, timeout=30)
    assert result.stdout == "200 1.1", result.stderr
    # Keep-alive: many requests, one handshake.
    before = metric(server.metrics(), "tessera_tls_handshakes_total", listener="https", resumed="false")
    with requests.Session() as session:
        for _ in range(10):
            assert session.get(server.base + "/healthz", verify=ca, timeout=10).status_code == 200
    after = metric(server.metrics(), "tessera_tls_handshakes_total", listener="https", resumed="false")
    assert after - before == 1
    expiry = metric(server.metrics(), "tessera_tls_certificate_expiry_seconds", listener="https")
    assert 29 * 86400 < expiry <= 30 * 86400


def test_old_protocols_plain_http_and_garbage_are_refused(server, pki):
    result = subprocess.run(["curl", "-sS", "--cacert", pki.path("ca.pem"), "--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0",
                             server.base + "/healthz"], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                            input="", capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    # Plain HTTP on the https port, and bytes that are no TLS at all: the connection is closed.
    for payload in (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 4):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
            raw.sendall(payload)
            received = b""
            while True:
                try:
                    chunk = raw.recv(4096)
                except ConnectionResetError:
                    # Closed with the rest of the garbage unread: a reset, as good as a close.
                    break
                if not chunk:
                    break
                received += chunk
            assert b"HTTP/1.1" not in received
    # The server is unharmed.
    assert requests.get(server.base + "/healthz", verify=pki.path("ca.pem"), timeout=10).status_code == 200
    text = server.metrics()
    assert metric(text, "tessera_tls_handshake_failures_total", listener="https", reason="protocol_version") >= 2
    assert metric(text, "tessera_tls_handshake_failures_total", listener="https", reason="not_tls") >= 2


def test_pipelining_over_tls(server, pki):
    context = ssl.create_default_context(cafile=pki.path("ca.pem"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /.well-known/jwks.json HTTP/1.1\r\nHost: a\r\n\r\n"
                        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.count(b"HTTP/1.1 200") == 3
    assert b'"keys"' in data


def test_main_listener_never_asks_for_a_client_certificate(server, pki):
    """RFC 8705 §5: browsers must never be prompted; only the mTLS listener sends a CertificateRequest."""
    def request_names(port):
        result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", pki.path("ca.pem"),
                                 "-tls1_2", "-servername", "localhost"], input="", capture_output=True, text=True, timeout=30)
        return result.stdout
    assert "No client certificate CA names sent" in request_names(server.port)
    assert "Acceptable client certificate CA names" in request_names(server.mtls_port)
    assert "Tessera E2E CA" in request_names(server.mtls_port)


def test_mtls_accepts_a_good_certificate_and_refuses_the_rest(server, pki):
    ca = pki.path("ca.pem")
    cert, key, certificate = pki.client("billing")
    r = requests.get(server.mtls + "/healthz", cert=(cert, key), verify=ca, timeout=10)
    assert r.status_code == 200
    # The handler saw the verified certificate (logged at debug level, by thumbprint).
    deadline = time.time() + 10
    while thumbprint(certificate) not in server.output() and time.time() < deadline:
        time.sleep(0.1)
    line = next(line for line in server.output().splitlines() if thumbprint(certificate) in line)
    entry = json.loads(line)
    assert entry["msg"] == "client certificate" and entry["subject"] == "CN=billing" and entry["source"] == "handshake"
    # Without a certificate the mTLS listener still serves (it asks, it does not require).
    assert requests.get(server.mtls + "/healthz", verify=ca, timeout=10).status_code == 200
    for kind, reason in (("expired", "client_certificate_expired"), ("unknown-ca", "client_certificate_unknown_issuer"),
                         ("self-signed", "client_certificate_self_signed")):
        before = metric(server.metrics(), "tessera_tls_handshake_failures_total", listener="mtls", reason=reason)
        bad_cert, bad_key, _ = pki.client(f"bad-{kind}", kind=kind)
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(server.mtls + "/healthz", cert=(bad_cert, bad_key), verify=ca, timeout=10)
        result = subprocess.run(["curl", "-sS", "--cacert", ca, "--cert", bad_cert, "--key", bad_key, server.mtls + "/healthz"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0, kind
        after = metric(server.metrics(), "tessera_tls_handshake_failures_total", listener="mtls", reason=reason)
        assert after - before >= 2, (kind, server.metrics())


def test_a_forged_client_cert_header_from_an_untrusted_address_is_ignored(server, pki):
    _, _, certificate = pki.client("forger")
    der = certificate.public_bytes(serialization.Encoding.DER)
    r = requests.get(server.base + "/healthz", verify=pki.path("ca.pem"), timeout=10,
                     headers={"Client-Cert": ":" + base64.b64encode(der).decode() + ":"})
    assert r.status_code == 200
    deadline = time.time() + 10
    while "forwarded client certificate ignored" not in server.output() and time.time() < deadline:
        time.sleep(0.1)
    assert "forwarded client certificate ignored" in server.output()
    assert thumbprint(certificate) not in server.output()


def test_haproxy_terminating_mtls_passes_client_cert(tmp_path, pki):
    """HAProxy verifies the client certificate and forwards it as RFC 9440 Client-Cert to Tessera (http)."""
    database = "e2e_" + uuid.uuid4().hex[:12]
    psql(f'CREATE DATABASE "{database}"')
    keys = str(tmp_path / "keys")
    subprocess.run([tessera_bin(), "keys", "init", "--keys-dir", keys], check=True, capture_output=True)
    backend, front = free_port(), free_port()
    environment = dict(os.environ)
    environment.update({"PGDATABASE": database, "TESSERA_KEYS_DIR": keys, "TESSERA_TRUSTED_PROXIES": "127.0.0.1",
                        "TESSERA_LOG_LEVEL": "debug", "TESSERA_ADMIN_LISTEN": f"127.0.0.1:{free_port()}"})
    log = str(tmp_path / "tessera.log")
    with open(log, "w") as output:
        process = subprocess.Popen([tessera_bin(), "serve", "--listen", f"127.0.0.1:{backend}", "--migrate"], cwd=ROOT,
                                   env=environment, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT)
    cert, key, _ = pki.server("haproxy")
    bundle = str(tmp_path / "haproxy-server.pem")
    with open(bundle, "w") as f:
        f.write(open(cert).read() + open(key).read())
    config = tmp_path / "haproxy.cfg"
    config.write_text(f"""
global
    maxconn 200
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend mtls
    bind 127.0.0.1:{front} ssl crt {bundle} ca-file {pki.path("ca.pem")} verify required
    http-request del-header Client-Cert
    http-request set-header Client-Cert :%[ssl_c_der,base64]:
    default_backend tessera
backend tessera
    server tessera 127.0.0.1:{backend}
""")
    proxy = None
    try:
        deadline = time.time() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{backend}/healthz", timeout=2)
                break
            except requests.exceptions.ConnectionError:
                assert process.poll() is None and time.time() < deadline, open(log).read()[-3000:]
                time.sleep(0.1)
        check = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        proxy = subprocess.Popen(["haproxy", "-f", str(config), "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client_cert, client_key, certificate = pki.client("behind-haproxy")
        deadline = time.time() + 30
        while True:
            try:
                r = requests.get(f"https://127.0.0.1:{front}/healthz", cert=(client_cert, client_key), verify=pki.path("ca.pem"), timeout=5)
                break
            except requests.exceptions.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.1)
        assert r.status_code == 200
        deadline = time.time() + 10
        while thumbprint(certificate) not in open(log).read() and time.time() < deadline:
            time.sleep(0.1)
        line = next(line for line in open(log).read().splitlines() if thumbprint(certificate) in line)
        entry = json.loads(line)
        assert entry["subject"] == "CN=behind-haproxy" and entry["source"] == "proxy"
        # HAProxy refuses a certificate of an unknown CA itself.
        bad_cert, bad_key, _ = pki.client("stranger", kind="unknown-ca")
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(f"https://127.0.0.1:{front}/healthz", cert=(bad_cert, bad_key), verify=pki.path("ca.pem"), timeout=5)
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait(timeout=10)
        process.terminate()
        process.wait(timeout=20)
        psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def peer_serial(port, ca):
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True)).serial_number


def test_rotation_under_load_fails_no_request(tmp_path, pki):
    """20 s of https load while the certificate is replaced twice and once with a broken file."""
    server = TLSServer(str(tmp_path), pki)
    ca = pki.path("ca.pem")
    try:
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0}
        failures = []
        lock = threading.Lock()

        def load(new_connections):
            session = requests.Session()
            while not stop.is_set():
                try:
                    if new_connections:
                        response = requests.get(server.base + "/healthz", verify=ca, timeout=10)
                    else:
                        response = session.get(server.base + "/healthz", verify=ca, timeout=10)
                    ok = response.status_code == 200
                except requests.RequestException as error:
                    ok = False
                    failures.append(repr(error))
                with lock:
                    counts["ok" if ok else "failed"] += 1

        threads = [threading.Thread(target=load, args=(index % 2 == 0,)) for index in range(4)]
        for thread in threads:
            thread.start()
        started = time.time()

        def replace(data, name):
            # As deployments do: a new file renamed over the old one.
            temporary = name + ".new"
            with open(temporary, "wb") as f:
                f.write(data)
            os.replace(temporary, name)

        def wait_for_serial(serial):
            deadline = time.time() + 15
            while peer_serial(server.port, ca) != serial:
                assert time.time() < deadline, "the new certificate was not served in time"
                time.sleep(0.2)

        first_serial = server.server_certificate.serial_number
        assert peer_serial(server.port, ca) == first_serial
        time.sleep(3)
        # Rotation 1: a new key and certificate.
        cert, key, second = pki.server("second", cn="localhost second")
        replace(open(key, "rb").read(), server.key)
        replace(open(cert, "rb").read(), server.certificate)
        wait_for_serial(second.serial_number)
        time.sleep(3)
        # A broken replacement: refused, the second certificate stays.
        replace(b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n", server.certificate)
        deadline = time.time() + 15
        while "reload refused" not in server.output():
            assert time.time() < deadline, server.output()[-3000:]
            time.sleep(0.2)
        assert peer_serial(server.port, ca) == second.serial_number
        time.sleep(3)
        # Rotation 2: a renewed certificate for the same key.
        cert, _, third = pki.server("third", cn="localhost third", key=serialization.load_pem_private_key(open(server.key, "rb").read(), None))
        replace(open(cert, "rb").read(), server.certificate)
        wait_for_serial(third.serial_number)
        while time.time() - started < 20:
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert counts["failed"] == 0, failures[:5]
        assert counts["ok"] > 100, counts
        text = server.metrics()
        assert metric(text, "tessera_tls_reloads_total", listener="https", result="success") == 2
        assert metric(text, "tessera_tls_reloads_total", listener="https", result="failure") == 1
        refused = [json.loads(line) for line in server.output().splitlines() if "reload refused" in line]
        assert refused[0]["level"] == "error" and refused[0]["setting"] == "TESSERA_TLS_CERT"
    finally:
        server.stop()


APACHE_CONFIG = """
ServerRoot /etc/apache2
Listen 127.0.0.1:{port}
ServerName 127.0.0.1
PidFile {folder}/apache.pid
ErrorLog {folder}/error.log
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authn_core_module /usr/lib/apache2/modules/mod_authn_core.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module /usr/lib/apache2/modules/mod_authz_user.so
LoadModule auth_openidc_module /usr/lib/apache2/modules/mod_auth_openidc.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
TypesConfig /etc/mime.types
LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
ScriptSock {folder}/cgid.sock
OIDCOAuthIntrospectionEndpoint {introspection}
OIDCOAuthClientID {client_id}
OIDCOAuthClientSecret {client_secret}
OIDCOAuthIntrospectionEndpointAuth client_secret_basic
OIDCOAuthRemoteUserClaim client_id
OIDCOAuthSSLValidateServer On
OIDCCABundlePath {ca}
OIDCCacheType shm
ScriptAlias /api/ {folder}/whoami.cgi/
<Location /api/>
    AuthType oauth20
    Require valid-user
</Location>
"""


def test_mod_auth_openidc_introspects_over_https(tmp_path, pki):
    """Apache mod_auth_openidc (Debian) as an RFC 7662 resource server insists on an https introspection endpoint."""
    if not os.path.exists("/usr/lib/apache2/modules/mod_auth_openidc.so"):
        pytest.fail("libapache2-mod-auth-openidc is missing: scripts/install-deps.sh test installs it")
    server = TLSServer(str(tmp_path / "tessera"), pki)
    # Apache's workers run as www-data: their folder must be readable to them.
    folder = tempfile.mkdtemp(prefix="tessera-apache-", dir="/tmp")
    os.chmod(folder, 0o755)
    shutil.copy(pki.path("ca.pem"), os.path.join(folder, "ca.pem"))
    os.chmod(os.path.join(folder, "ca.pem"), 0o644)
    apache = None
    try:
        api = "https://api.example.com"
        rs = server.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read",
                             "--audiences", api, "--introspect-audiences", api)
        client = server.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read", "--audiences", api)
        token = requests.post(server.base + "/token", auth=(client["client_id"], client["client_secret"]),
                              data={"grant_type": "client_credentials", "scope": "read"}, verify=pki.path("ca.pem"), timeout=10).json()["access_token"]
        script = os.path.join(folder, "whoami.cgi")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nuser=%s\\n' \"$REMOTE_USER\"\n")
        os.chmod(script, 0o755)
        port = free_port()
        config = os.path.join(folder, "apache.conf")
        with open(config, "w") as f:
            f.write(APACHE_CONFIG.format(port=port, folder=folder, introspection=server.base + "/introspect",
                                         client_id=rs["client_id"], client_secret=rs["client_secret"],
                                         ca=os.path.join(folder, "ca.pem")))
        apache = subprocess.run(["apache2", "-f", config, "-k", "start"], capture_output=True, text=True, timeout=30,
                                env={**os.environ, "APACHE_RUN_DIR": folder, "APACHE_LOCK_DIR": folder, "APACHE_LOG_DIR": folder})
        assert apache.returncode == 0, apache.stdout + apache.stderr
        url = f"http://127.0.0.1:{port}/api/"
        deadline = time.time() + 30
        while True:
            try:
                r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                break
            except requests.exceptions.ConnectionError:
                assert time.time() < deadline
                time.sleep(0.2)
        assert r.status_code == 200, r.text + open(os.path.join(folder, "error.log")).read()[-3000:]
        assert r.text.strip() == f"user={client['client_id']}"
        assert requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=10).status_code == 401
        assert requests.get(url, timeout=10).status_code == 401
    finally:
        pid_file = os.path.join(folder, "apache.pid")
        if os.path.exists(pid_file):
            subprocess.run(["apache2", "-f", os.path.join(folder, "apache.conf"), "-k", "stop"], capture_output=True, timeout=30,
                           env={**os.environ, "APACHE_RUN_DIR": folder, "APACHE_LOCK_DIR": folder, "APACHE_LOG_DIR": folder})
            deadline = time.time() + 15
            while os.path.exists(pid_file) and time.time() < deadline:
                time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)
        server.stop()


def test_dev_serves_https_and_mtls_with_development_certificates():
    """`tessera dev` makes a development CA and serves https and mTLS beside http; the printed curl works."""
    state = tempfile.mkdtemp(prefix="tessera-dev-tls-", dir="/tmp")
    os.chmod(state, 0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    port, https_port, mtls_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [tessera_bin(), "dev", "--data-dir", os.path.join(state, ".data"), "--listen", f"127.0.0.1:{port}",
         "--dev-https-listen", f"127.0.0.1:{https_port}", "--dev-mtls-listen", f"127.0.0.1:{mtls_port}"],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.time() + 120
        while not any("curl --cacert" in line and f"{https_port}" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.time() < deadline, "".join(lines)
            time.sleep(0.2)
        command = next(line for line in lines if "curl --cacert" in line and f"{https_port}" in line)
        curl = command.split("try:", 1)[1].split()
        result = subprocess.run(curl + ["-sS", "-o", "/dev/null", "-w", "%{http_code}"], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert result.stdout == "200", result.stderr
        while not any("--cert" in line for line in lines):
            assert time.time() < deadline, "".join(lines)
            time.sleep(0.2)
        workload = next(line for line in lines if "--cert" in line)
        curl = workload.split("):", 1)[1].split()
        result = subprocess.run(curl + ["-sS", "-o", "/dev/null", "-w", "%{http_code}"], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert result.stdout == "200", result.stderr
        ca = os.path.join(state, ".data", "tls", "ca.pem")
        assert os.stat(os.path.join(state, ".data", "tls", "ca.key")).st_mode & 0o777 == 0o600
        # The plain http listener is still there.
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert requests.get(f"https://127.0.0.1:{https_port}/healthz", verify=ca, timeout=10).status_code == 200
    finally:
        process.send_signal(2)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        reader.join(timeout=5)
        shutil.rmtree(state, ignore_errors=True)
