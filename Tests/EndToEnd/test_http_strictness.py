"""HTTP/1.1 semantics seen from outside, through real sockets and `requests`: the methods each
resource allows, OPTIONS, and the answers RFC 9110 / RFC 9112 prescribe for requests the
server will not serve."""
import os
import socket
import subprocess
import time

import pytest
import requests

from conftest import ROOT, SourceAddress, tessera_bin


@pytest.fixture
def server(start_server, database):
    return start_server(args=["--migrate"], database=database)


def port_of(server):
    return int(server.base.rsplit(":", 1)[1])


def raw(server, data, timeout=10):
    """Sends `data` on a new connection and returns everything the server sends back before closing."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=timeout) as s:
        s.sendall(data)
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def status_of(response):
    return int(response.split(b" ", 2)[1])


# RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response
# containing a list of the target resource's currently supported methods."
ALLOWED = {
    "/healthz": "GET, HEAD",
    "/readyz": "GET, HEAD",
    "/.well-known/jwks.json": "GET, HEAD",
    "/.well-known/openid-configuration": "GET, HEAD",
    "/.well-known/oauth-authorization-server": "GET, HEAD",
    "/token": "POST",
    "/revoke": "POST",
    "/introspect": "POST",
    "/authorize": "GET, HEAD, POST",
    "/login": "POST",
    "/consent": "GET, HEAD, POST",
    "/userinfo": "GET, HEAD, POST",
    "/logout": "GET, HEAD, POST",
}


@pytest.mark.parametrize("path,allow", sorted(ALLOWED.items()))
def test_options_answers_200_with_the_methods_the_resource_accepts(server, path, allow):
    r = requests.options(server.base + path, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Allow"] == allow
    # RFC 9110 §9.3.7: "A server MUST generate a Content-Length field with a value of "0" if no
    # content is to be sent in the response."
    assert r.headers["Content-Length"] == "0" and r.content == b""


def test_the_management_listener_answers_options_and_405_with_its_allow(server):
    for path in ("/metrics", "/healthz", "/readyz"):
        r = requests.options(server.admin + path, timeout=10)
        assert r.status_code == 200 and r.headers["Allow"] == "GET, HEAD", (path, r.status_code)
        r = requests.put(server.admin + path, timeout=10)
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD", (path, r.status_code)


def test_a_method_a_resource_does_not_accept_gets_405_with_its_allow(server):
    for path, allow in ALLOWED.items():
        accepted = {m.strip() for m in allow.split(",")}
        method = "PUT" if "PUT" not in accepted else "DELETE"
        if path in ("/token", "/revoke", "/introspect"):
            continue
        r = requests.request(method, server.base + path, timeout=10)
        assert r.status_code == 405, (path, r.status_code)
        assert r.headers["Allow"] == allow, path


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_oauth_endpoints_answer_other_methods_invalid_request_with_allow_post(server, path):
    """RFC 6749 §3.2 (and RFC 7009 / RFC 7662): POST only; anything else is an OAuth error, not a bare 405."""
    for method in ["GET", "PUT", "DELETE", "PATCH"]:
        r = requests.request(method, server.base + path, data={"token": "x"}, timeout=10)
        assert r.status_code == 400, (method, r.status_code, r.text)
        assert r.json()["error"] == "invalid_request"
        assert r.headers["Allow"] == "POST"


def test_options_asterisk_applies_to_the_server(server):
    response = raw(server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(response) == 200
    assert b"\r\nContent-Length: 0\r\n" in response


# RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request
# message that lacks a Host header field and to any request message that contains more than one
# Host header field line or a Host header field with an invalid field value."
@pytest.mark.parametrize("head", [
    b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x@a\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: a:port\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\nHost: a b\r\n\r\n",
], ids=["space", "slash", "userinfo", "port-not-a-number", "unclosed-ipv6", "twice", "missing", "http10-invalid"])
def test_a_missing_repeated_or_invalid_host_gets_400(server, head):
    response = raw(server, head)
    assert status_of(response) == 400, response
    assert b"\r\nConnection: close\r\n" in response


@pytest.mark.parametrize("host", [b"localhost", b"127.0.0.1:8080", b"[::1]:443", b"auth.example.com", b""])
def test_valid_host_forms_are_served(server, host):
    response = raw(server, b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    assert status_of(response) == 200, response


# RFC 9110 §9.1: "The method token is case-sensitive"; "An origin server that receives a request
# method that is unrecognized or not implemented SHOULD respond with the 501 (Not Implemented)".
@pytest.mark.parametrize("method", [b"FOO", b"get", b"Post", b"PROPFIND", b"BREW"])
def test_an_unrecognized_method_gets_501(server, method):
    response = raw(server, method + b" /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(response) == 501, response


def test_a_known_method_the_resource_does_not_allow_stays_405(server):
    for method in ["PUT", "DELETE", "PATCH", "TRACE"]:
        r = requests.request(method, server.base + "/healthz", timeout=10)
        assert r.status_code == 405, method
        assert r.headers["Allow"] == "GET, HEAD"


def test_a_transfer_coding_the_server_does_not_implement_gets_501(server):
    """RFC 9112 §6.1: "A server that receives a request message with a transfer coding it does not
    understand SHOULD respond with 501 (Not Implemented).\""""
    body = b"0\r\n\r\n"
    for codings in [b"gzip, chunked", b"deflate, chunked", b"gzip\r\nTransfer-Encoding: chunked"]:
        response = raw(server, b"POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + codings + b"\r\n\r\n" + body)
        assert status_of(response) == 501, (codings, response)


def test_chunked_not_final_or_repeated_gets_400(server):
    """RFC 9112 §6.3: chunked not the final coding: "the server MUST respond with the 400 (Bad Request)"."""
    for codings in [b"gzip", b"chunked, gzip", b"chunked, chunked"]:
        response = raw(server, b"POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + codings + b"\r\n\r\n0\r\n\r\n")
        assert status_of(response) == 400, (codings, response)


def test_chunked_requests_still_work(server):
    response = raw(server, b"POST /token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                           b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                           b"17\r\ngrant_type=client_crede\r\n6\r\nntials\r\n0\r\n\r\n")
    # A well-framed request reaches the token endpoint, which asks who the client is.
    assert status_of(response) in (400, 401), response
    assert b"invalid_client" in response or b"invalid_request" in response


# Issue: one source must not take every connection. A source (an IPv4 address, an IPv6 /64) may
# hold TESSERA_MAX_CONNECTIONS_PER_SOURCE connections; the next is refused at once.

def refused(sock):
    """A 503 then the end of the stream, or the end at once."""
    sock.settimeout(10)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    return data == b"" or data.startswith(b"HTTP/1.1 503")


def test_connections_over_the_per_source_cap_are_refused_and_others_served(start_server, database):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_MAX_CONNECTIONS_PER_SOURCE": "3"})
    port = port_of(server)
    held = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            held.append(s)
        over = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert refused(over)
        over.close()
        # Another source has its own budget.
        elsewhere = requests.Session()
        elsewhere.mount("http://", SourceAddress("127.0.0.2"))
        assert elsewhere.get(server.base + "/healthz", timeout=10).status_code == 200
        # A connection closed frees its place.
        held.pop().close()
        deadline = 50
        while deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(4096).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            deadline -= 1
            time.sleep(0.1)
        assert deadline, "the freed place was never given back"
    finally:
        for s in held:
            s.close()


def test_a_bad_per_source_cap_fails_at_start_naming_the_setting():
    result = subprocess.run([tessera_bin(), "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TESSERA_MAX_CONNECTIONS_PER_SOURCE": "lots"}, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "TESSERA_MAX_CONNECTIONS_PER_SOURCE" in result.stderr


# Event loops and the fast path: health, JWKS and discovery are answered on the event-loop
# thread that read them; the answers are the same, carry a request id and are counted.

@pytest.mark.parametrize("loops", ["1", "3"])
def test_every_event_loop_count_serves_fast_and_asynchronous_paths(start_server, database, loops):
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_EVENT_LOOPS": loops})
    before = requests.get(server.admin + "/metrics", timeout=10).text
    sessions = [requests.Session() for _ in range(12)]
    for session in sessions:
        health = session.get(server.base + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        assert len(health.headers["X-Request-ID"]) == 16
        jwks = session.get(server.base + "/.well-known/jwks.json", timeout=10)
        assert jwks.status_code == 200 and jwks.json()["keys"]
        assert session.get(server.base + "/.well-known/jwks.json", headers={"If-None-Match": jwks.headers["ETag"]},
                           timeout=10).status_code == 304
        discovery = session.get(server.base + "/.well-known/openid-configuration", timeout=10)
        assert discovery.json()["issuer"] == server.base
        assert session.get(server.base + "/readyz", timeout=10).status_code == 200
    after = requests.get(server.admin + "/metrics", timeout=10).text
    assert counted(after, "/healthz", "200") - counted(before, "/healthz", "200") == 12
    assert counted(after, "/.well-known/jwks.json", "304") - counted(before, "/.well-known/jwks.json", "304") == 12
    assert server.stop() == 0


def counted(metrics, endpoint, status):
    prefix = f'tessera_http_requests_total{{endpoint="{endpoint}",status="{status}"}} '
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix):]))
    return 0


def test_pipelined_fast_and_asynchronous_answers_stay_in_order(server):
    requests_ = (b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = raw(server, requests_)
    bodies = [part for part in response.split(b"HTTP/1.1 ")[1:]]
    assert len(bodies) == 5
    assert [b'"status":"ready"' in bodies[0], b'"status":"ok"' in bodies[1], b'"issuer"' in bodies[2],
            b'"status":"ready"' in bodies[3], b'"status":"ok"' in bodies[4]] == [True] * 5


@pytest.mark.parametrize("value", ["0", "257", "many"])
def test_a_bad_event_loop_count_fails_at_start_naming_the_setting(value):
    result = subprocess.run([tessera_bin(), "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TESSERA_EVENT_LOOPS": value}, stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "TESSERA_EVENT_LOOPS" in result.stderr


def test_a_second_server_on_the_same_port_is_refused(start_server, database, keys_dir):
    """With several event loops the listeners share the port (SO_REUSEPORT); another server must
    still be refused the port rather than join them and take part of their connections."""
    server = start_server(args=["--migrate"], database=database, env={"TESSERA_EVENT_LOOPS": "2"})
    result = subprocess.run([tessera_bin(), "serve", "--listen", f"127.0.0.1:{port_of(server)}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir, "TESSERA_EVENT_LOOPS": "2"})
    assert result.returncode != 0
    assert "address already in use" in result.stderr
