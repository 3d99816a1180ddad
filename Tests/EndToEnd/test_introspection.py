"""RFC 7662 introspection, seen by resource servers we did not write.

requests sends the introspection calls by hand for the exact answers; a small resource server
built on authlib's RFC 7662 token validator protects a route with Tessera's introspection.
"""
import base64
import http.server
import json
import threading
import time

import jwt
import pytest
import requests
from authlib.oauth2 import ResourceProtector
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.requests import JsonRequest
from authlib.oauth2.rfc7662 import IntrospectTokenValidator
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import free_port
from test_authorization_code import Browser, Provider, launch, redeem
from test_refresh import ISSUER, psql_rows, refresh, refresh_client, revoke

API = "https://api.example.com"
OTHER_API = "https://other.example.com"
INACTIVE = {"active": False}


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    yield from launch(tmp_path_factory.mktemp("introspection"))


def service(op, *args, token_format="jwt", audiences=API):
    return op.cli_json("clients", "create", "--grant-types", "client_credentials", "--scopes", "read write",
                       "--audiences", audiences, "--token-format", token_format, *args)


def resource_server(op, audiences=API):
    return service(op, "--introspect-audiences", audiences, audiences=audiences)


def issue(op, client, **data):
    response = requests.post(op.token_url, auth=(client["client_id"], client["client_secret"]),
                             data={"grant_type": "client_credentials", **data}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def introspect(op, caller, token, base=None, **extra):
    response = requests.post((base or op.base) + "/introspect", auth=(caller["client_id"], caller["client_secret"]),
                             data={"token": token, **extra}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers.get("Cache-Control") == "no-store"
    return response.json()


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_an_active_access_token_says_what_it_is(op, token_format):
    rs = resource_server(op)
    client = service(op, token_format=token_format)
    token = issue(op, client, scope="read")
    answer = introspect(op, rs, token, token_type_hint="access_token")
    assert answer["active"] is True
    assert answer["scope"] == "read" and answer["client_id"] == client["client_id"] and answer["sub"] == client["client_id"]
    assert answer["aud"] == API and answer["iss"] == op.issuer and answer["token_type"] == "Bearer"
    assert answer["exp"] > answer["iat"] and answer["jti"]
    assert "username" not in answer, "a client's own token has no username"


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_a_user_token_carries_the_username(op, token_format):
    rs = resource_server(op, audiences=op.base + "/userinfo")
    client = op.first_party("--token-format", token_format)
    user = op.user()
    tokens = redeem(op, Browser(op).sign_in(client, user)).json()
    answer = introspect(op, rs, tokens["access_token"])
    assert answer["active"] is True and answer["username"] == user["username"] and answer["sub"] == user["sub"]


def test_audience_scoping(op):
    rs = resource_server(op)
    other_rs = resource_server(op, audiences=OTHER_API)
    client = service(op, audiences=f"{API} {OTHER_API}")
    for_api = issue(op, client, resource=API)
    assert introspect(op, rs, for_api)["active"] is True
    assert introspect(op, other_rs, for_api) == INACTIVE, "a token for another audience is inactive to this caller"
    for_other = issue(op, client, resource=OTHER_API)
    assert introspect(op, other_rs, for_other)["active"] is True
    assert introspect(op, rs, for_other) == INACTIVE


def test_expired_revoked_tampered_foreign_and_garbage_tokens_are_inactive(op):
    rs = resource_server(op)
    short = service(op, "--access-token-ttl", "1s", token_format="opaque")
    expiring = issue(op, short)
    client = service(op, token_format="opaque")
    revoked = issue(op, client)
    assert requests.post(op.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": revoked},
                         timeout=10).status_code == 200
    opaque = issue(op, client)
    tampered = opaque[:-3] + ("A" if opaque[-3] != "A" else "B") + opaque[-2:]
    key = ec.generate_private_key(ec.SECP256R1())
    foreign = jwt.encode({"iss": op.issuer, "sub": "x", "aud": API, "exp": int(time.time()) + 600, "iat": int(time.time()),
                          "jti": "f", "client_id": "x", "scope": "read"}, key, algorithm="ES256", headers={"typ": "at+jwt", "kid": "nope"})
    time.sleep(1.5)
    garbage = ["", "x", "a.b.c", "tsa_", "tsa_k1.", "tsr_" + "A" * 43, "eyJhbGciOiJub25lIn0.e30.", "A" * 5000,
               base64.urlsafe_b64encode(b"\xff" * 64).decode(), "tsa_k99999999." + "A" * 100]
    for token in [expiring, revoked, tampered, foreign, *garbage]:
        if token == "":
            continue
        assert introspect(op, rs, token) == INACTIVE, token[:60]
    assert introspect(op, rs, opaque)["active"] is True


def test_an_id_token_and_a_family_revoked_by_reuse_are_inactive(op):
    rs = resource_server(op, audiences=op.base + "/userinfo")
    client = refresh_client(op)
    tokens = redeem(op, Browser(op).sign_in(client, op.user(), scope="openid offline_access")).json()
    assert introspect(op, rs, tokens["access_token"])["active"] is True
    assert introspect(op, rs, tokens["id_token"]) == INACTIVE
    rotated = refresh(op, client, tokens["refresh_token"]).json()
    refresh(op, client, tokens["refresh_token"])  # a replay: the family is revoked
    for token in (tokens["access_token"], rotated["access_token"]):
        assert introspect(op, rs, token) == INACTIVE


def test_a_refresh_token_is_active_only_to_its_own_client(op):
    client = op.client("--grant-types", "authorization_code refresh_token", "--skip-consent", "true",
                       "--introspect-audiences", API, scopes="openid offline_access", confidential=True)
    rs = resource_server(op)
    tokens = redeem(op, Browser(op).sign_in(client, op.user(), scope="openid offline_access")).json()
    own = introspect(op, client, tokens["refresh_token"])
    assert own["active"] is True and own["client_id"] == client["client_id"] and own["token_type"] == "refresh_token"
    assert introspect(op, rs, tokens["refresh_token"]) == INACTIVE
    refresh(op, client, tokens["refresh_token"])
    assert introspect(op, client, tokens["refresh_token"]) == INACTIVE, "a rotated refresh token is inactive"


def test_a_jwt_signed_by_a_retired_key_stays_active_while_valid(op):
    rs = resource_server(op)
    client = service(op, "--signing-alg", "ES256")
    token = issue(op, client)
    kid = jwt.get_unverified_header(token)["kid"]
    op.cli("keys", "rotate", "--alg", "ES256", "--force")
    keys = op.cli_json("keys", "list")
    assert any(k.get("kid") == kid and k.get("state") == "retired" for k in keys), keys
    deadline = time.time() + 10
    while requests.get(op.base + "/.well-known/jwks.json", timeout=5).json()["keys"][0]["kid"] == kid and time.time() < deadline:
        time.sleep(0.2)
    assert introspect(op, rs, token)["active"] is True
    new = issue(op, client)
    assert jwt.get_unverified_header(new)["kid"] != kid, "new tokens are signed by the new key"


def test_who_may_introspect(op):
    client = service(op)
    token = issue(op, client)
    public = op.client("--introspect-audiences", "", scopes="openid")
    for auth, data in [(None, {"token": token, "client_id": public["client_id"]}),
                       (None, {"token": token}),
                       ((client["client_id"], "wrong secret"), {"token": token})]:
        response = requests.post(op.base + "/introspect", auth=auth, data=data, timeout=10)
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", response.text
    # Right credentials but no audience it may introspect: never told its credentials failed, and
    # told nothing about the token (RFC 7662 §2.2), even for its own token.
    allowed_nothing = requests.post(op.base + "/introspect", auth=(client["client_id"], client["client_secret"]),
                                    data={"token": token}, timeout=10)
    assert allowed_nothing.status_code == 200 and allowed_nothing.json() == INACTIVE, allowed_nothing.text
    assert allowed_nothing.headers["Cache-Control"] == "no-store"
    rs = resource_server(op)
    missing = requests.post(op.base + "/introspect", auth=(rs["client_id"], rs["client_secret"]), data={}, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    document = requests.get(op.base + "/.well-known/openid-configuration", timeout=10).json()
    assert document["introspection_endpoint"] == op.issuer + "/introspect"
    assert "none" not in document["introspection_endpoint_auth_methods_supported"]


# A resource server using authlib's introspection validator

class IntrospectingValidator(IntrospectTokenValidator):
    def __init__(self, op, rs):
        super().__init__()
        self.op, self.rs = op, rs

    def introspect_token(self, token_string):
        return requests.post(self.op.base + "/introspect", auth=(self.rs["client_id"], self.rs["client_secret"]),
                             data={"token": token_string, "token_type_hint": "access_token"}, timeout=10).json()


def serve_protected(op, rs):
    protector = ResourceProtector()
    protector.register_token_validator(IntrospectingValidator(op, rs))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            request = JsonRequest("GET", "http://api.example.com" + self.path, headers=dict(self.headers))
            try:
                token = protector.validate_request(scopes=["read"], request=request)
                status, body = 200, {"hello": token["client_id"]}
            except OAuth2Error as error:
                status, body = error.status_code, {"error": error.error}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_authlib_resource_server_accepts_and_then_refuses_a_revoked_token(op):
    rs = resource_server(op)
    client = service(op, token_format="opaque")
    token = issue(op, client, scope="read")
    server = serve_protected(op, rs)
    url = f"http://127.0.0.1:{server.server_address[1]}/orders"
    try:
        ok = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert ok.status_code == 200 and ok.json() == {"hello": client["client_id"]}, ok.text
        requests.post(op.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": token}, timeout=10)
        refused = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert refused.status_code == 401, refused.text
    finally:
        server.shutdown()


# Several instances

@pytest.fixture
def pair(start_server, database, keys_dir):
    env = {"TESSERA_ISSUER": ISSUER}
    a = start_server(args=["--migrate"], database=database, env=env)
    b = start_server(database=database, env=env)
    yield a, b, Provider(a.base, {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir}, issuer=ISSUER)


def wait_synchronised(server):
    deadline = time.time() + 10
    while "tessera_revocations_synchronized 1" not in requests.get(server.admin + "/metrics", timeout=5).text:
        assert time.time() < deadline, f"{base} never synchronised its revocations"
        time.sleep(0.1)


def test_a_revocation_at_one_instance_is_inactive_at_another_within_a_second(pair):
    a, b, op = pair
    rs = resource_server(op)
    client = service(op, token_format="opaque")
    token = issue(op, client)
    wait_synchronised(b)
    assert introspect(op, rs, token, base=b.base)["active"] is True
    requests.post(a.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": token}, timeout=10)
    start = time.monotonic()
    while introspect(op, rs, token, base=b.base) != INACTIVE:
        assert time.monotonic() - start < 1.0, "instance B still says active"
        time.sleep(0.05)


def test_after_the_notification_connection_is_cut_nothing_stale_is_trusted(pair):
    a, b, op = pair
    rs = resource_server(op)
    client = service(op, token_format="opaque")
    first, second = issue(op, client), issue(op, client)
    wait_synchronised(b)
    assert introspect(op, rs, first, base=b.base)["active"] is True
    # Cut every LISTEN connection (both instances'); revoke right away, before they reconnect.
    cut = psql_rows(op.env["PGDATABASE"], "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE datname = current_database() AND query ILIKE 'LISTEN%'")
    assert len(cut) >= 2 and all(row == ["t"] for row in cut), f"the listeners were not found: {cut}"
    requests.post(a.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": first}, timeout=10)
    assert introspect(op, rs, first, base=b.base) == INACTIVE, "while resynchronising, PostgreSQL answers"
    wait_synchronised(b)
    assert introspect(op, rs, first, base=b.base) == INACTIVE
    requests.post(a.base + "/revoke", auth=(client["client_id"], client["client_secret"]), data={"token": second}, timeout=10)
    start = time.monotonic()
    while introspect(op, rs, second, base=b.base) != INACTIVE:
        assert time.monotonic() - start < 1.0, "after resynchronising, notifications flow again"
        time.sleep(0.05)


def inactive_within_a_second(op, rs, token, bases):
    """Introspects `token` at every instance until each says inactive, failing after a second."""
    start = time.monotonic()
    for base in bases:
        while introspect(op, rs, token, base=base) != INACTIVE:
            assert time.monotonic() - start < 1.0, f"{base} still says active a second after the change"
            time.sleep(0.05)


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
@pytest.mark.parametrize("change", ["disable", "delete"])
def test_a_disabled_or_deleted_clients_tokens_are_inactive_everywhere_within_a_second(pair, token_format, change):
    a, b, op = pair
    rs = resource_server(op)
    client = service(op, token_format=token_format)
    machine_token = issue(op, client)
    web = op.first_party("--token-format", token_format)
    user_token = redeem(op, Browser(op).sign_in(web, op.user())).json()["access_token"]
    user_rs = resource_server(op, audiences=ISSUER + "/userinfo")
    other = service(op, token_format=token_format)
    bystander = issue(op, other)
    for server in (a, b):
        wait_synchronised(server)
        assert introspect(op, rs, machine_token, base=server.base)["active"] is True
        assert introspect(op, user_rs, user_token, base=server.base)["active"] is True
    op.cli("clients", change, client["client_id"]).check_returncode()
    op.cli("clients", change, web["client_id"]).check_returncode()
    inactive_within_a_second(op, rs, machine_token, (a.base, b.base))
    inactive_within_a_second(op, user_rs, user_token, (a.base, b.base))
    assert introspect(op, rs, bystander, base=b.base)["active"] is True, "another client's tokens are untouched"
    if change == "disable":
        # Enabled again, the client gets tokens that are active; those from before stay revoked. The
        # cut-off covers the second after the change (tokens another instance issued before it knew).
        op.cli("clients", "enable", client["client_id"]).check_returncode()
        time.sleep(2.1)
        fresh = None
        deadline = time.monotonic() + 5
        while fresh is None:
            response = requests.post(op.token_url, auth=(client["client_id"], client["client_secret"]),
                                     data={"grant_type": "client_credentials"}, timeout=10)
            if response.status_code == 200:
                fresh = response.json()["access_token"]
            else:
                assert time.monotonic() < deadline, response.text
                time.sleep(0.1)
        assert introspect(op, rs, fresh, base=b.base)["active"] is True
        assert introspect(op, rs, machine_token, base=b.base) == INACTIVE


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_a_disabled_or_deleted_users_tokens_are_inactive_everywhere_within_a_second(pair, change):
    a, b, op = pair
    user_rs = resource_server(op, audiences=ISSUER + "/userinfo")
    web = op.first_party("--token-format", "opaque")
    user, bystander = op.user(), op.user()
    token = redeem(op, Browser(op).sign_in(web, user)).json()["access_token"]
    other_token = redeem(op, Browser(op).sign_in(web, bystander)).json()["access_token"]
    for server in (a, b):
        wait_synchronised(server)
        assert introspect(op, user_rs, token, base=server.base)["active"] is True
    op.cli("users", change, user["username"]).check_returncode()
    inactive_within_a_second(op, user_rs, token, (a.base, b.base))
    assert introspect(op, user_rs, other_token, base=b.base)["active"] is True, "another user's tokens are untouched"
    userinfo = requests.get(b.base + "/userinfo", headers={"Authorization": "Bearer " + token}, timeout=10)
    assert userinfo.status_code == 401
