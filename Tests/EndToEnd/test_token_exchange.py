"""Token exchange (RFC 8693) for an edge gateway, seen by clients we did not write.

The gateway signs a person in with the browser login (test_authorization_code's requests-based
browser), then swaps the person's token for narrow, audience-bound tokens for the services behind
it, naming itself as the actor. PyJWT verifies the issued JWTs against the served JWKS; resource
servers introspect them; an external identity provider is played by keys made here (PyJWT signs its
tokens, a small HTTP server publishes its JWKS). Users, clients and issuers are registered with the
`tessera` CLI, as an operator would.
"""
import base64
import http.server
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import free_port, psql
from test_authorization_code import CALLBACK, Browser, Provider, assert_token_error, launch, redeem, unique

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
JWT = "urn:ietf:params:oauth:token-type:jwt"
ORDERS = "https://orders.internal"
PAYMENTS = "https://payments.internal"
GATEWAY_API = "https://gateway.internal"
USER_SCOPE = "openid profile orders:read orders:write"
INACTIVE = {"active": False}
IDP = "https://idp.example.test"
IDP_AUDIENCE = "edge-gateway"


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exchange")
    running = launch(folder)
    provider = next(running)
    # Where the server writes its operational log and audit lines.
    provider.log_path = folder / "tessera.log"
    yield provider
    running.close()


# Registrations

def gateway(op, *args, impersonate=False, depth=None, token_format="jwt"):
    """The edge gateway: signs people in, has its own client_credentials token, and exchanges."""
    extra = ["--exchange-may-impersonate", "true"] if impersonate else []
    if depth:
        extra += ["--exchange-max-depth", str(depth)]
    return op.cli_json("clients", "create", "--id", unique("gateway"), "--type", "confidential", "--auth-method", "client_secret_basic",
                       "--grant-types", f"authorization_code client_credentials {EXCHANGE}", "--redirect-uris", CALLBACK,
                       "--scopes", USER_SCOPE, "--audiences", GATEWAY_API, "--exchange-audiences", f"{ORDERS} {PAYMENTS} orders-service",
                       "--skip-consent", "true", "--token-format", token_format, *extra, *args)


def service(op, audience, *args, exchange_audiences=None, depth=None):
    """A service behind the gateway: a resource server for `audience` that may exchange onwards."""
    extra = []
    if exchange_audiences:
        extra += ["--grant-types", f"client_credentials {EXCHANGE}", "--exchange-audiences", exchange_audiences]
    else:
        extra += ["--grant-types", "client_credentials"]
    if depth:
        extra += ["--exchange-max-depth", str(depth)]
    return op.cli_json("clients", "create", "--id", unique("svc"), "--scopes", "orders:read orders:write payments:charge",
                       "--audiences", f"https://{unique('self')}.internal", "--introspect-audiences", audience, *extra, *args)


def signed_in(op, client, scope=USER_SCOPE):
    """A person signs in to `client` in a browser; returns the token response and the user."""
    user = op.user()
    response = redeem(op, Browser(op).sign_in(client, user, scope=scope))
    assert response.status_code == 200, response.text
    return response.json(), user


def own_token(op, client):
    """The client's own client_credentials token: what it presents as the actor."""
    response = requests.post(op.token_url, auth=(client["client_id"], client["client_secret"]),
                             data={"grant_type": "client_credentials"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def exchange(op, client, subject, subject_type=ACCESS_TOKEN, actor=None, actor_type=ACCESS_TOKEN, base=None, **extra):
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": subject_type}
    if actor is not None:
        data.update(actor_token=actor, actor_token_type=actor_type)
    data.update(extra)
    data = {k: v for k, v in data.items() if v is not None}
    return requests.post((base or op.base) + "/token", auth=(client["client_id"], client["client_secret"]), data=data, timeout=30)


def exchanged(op, client, subject, **kwargs):
    response = exchange(op, client, subject, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def introspect(op, caller, token, base=None):
    response = requests.post((base or op.base) + "/introspect", auth=(caller["client_id"], caller["client_secret"]),
                             data={"token": token}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def verify(op, token, audience):
    """PyJWT checks the signature with the served JWKS, the issuer and the audience."""
    key = jwt.PyJWKClient(op.jwks_url).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256", "RS256"], audience=audience, issuer=op.issuer)


def becomes_inactive(op, caller, token, within=5.0, base=None):
    deadline = time.time() + within
    while time.time() < deadline:
        if introspect(op, caller, token, base=base) == INACTIVE:
            return True
        time.sleep(0.05)
    return False


# 1. The gateway flow

def test_the_gateway_swaps_a_login_for_a_narrow_delegated_token_that_dies_with_the_session(op):
    gw = gateway(op)
    orders = service(op, ORDERS)
    tokens, user = signed_in(op, gw)
    answer = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), resource=ORDERS, scope="orders:read")
    # RFC 8693 §2.2.1: issued_token_type and token_type are required; no refresh token.
    assert answer["issued_token_type"] == ACCESS_TOKEN and answer["token_type"] == "Bearer"
    assert answer["scope"] == "orders:read" and "refresh_token" not in answer
    claims = verify(op, answer["access_token"], ORDERS)
    assert claims["aud"] == ORDERS and claims["scope"] == "orders:read"
    assert claims["sub"] == user["sub"], "the person stays the subject"
    assert claims["act"] == {"sub": gw["client_id"]}, "the gateway acts (RFC 8693 §4.1)"
    assert claims["client_id"] == gw["client_id"]
    assert claims["exp"] <= jwt.decode(tokens["access_token"], options={"verify_signature": False})["exp"]
    seen = introspect(op, orders, answer["access_token"])
    assert seen["active"] is True and seen["aud"] == ORDERS and seen["act"] == {"sub": gw["client_id"]}
    assert seen["username"] == user["username"] and seen["sub"] == user["sub"]
    # The person is logged out everywhere: the exchanged token is inactive at once.
    result = op.cli_json("tokens", "revoke", "--user", user["username"])
    assert result["sessions_ended"] == 1
    assert becomes_inactive(op, orders, answer["access_token"])


def test_the_exchange_is_audited_and_counted(op):
    gw = gateway(op)
    tokens, user = signed_in(op, gw)
    issued = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), audience="orders-service", scope="orders:write")
    jti = jwt.decode(issued["access_token"], options={"verify_signature": False})["jti"]
    metrics = requests.get(op.admin + "/metrics", timeout=10).text
    assert 'tessera_token_exchanges_total{subject="access_token",mode="delegation"}' in metrics
    assert f'tessera_tokens_issued_total{{grant_type="{EXCHANGE}"}}' in metrics
    lines = [json.loads(line) for line in op.log_path.read_text().splitlines() if line.startswith("{") and '"token_exchanged"' in line]
    event = next(line for line in lines if line.get("jti") == jti)
    assert event["client_id"] == gw["client_id"] and event["sub"] == user["sub"] and event["actor"] == gw["client_id"]
    assert event["aud"] == "orders-service" and event["scope"] == "orders:write" and event["subject_token"] == "access_token"
    assert issued["access_token"] not in op.log_path.read_text() and tokens["access_token"] not in op.log_path.read_text()


def test_an_rp_initiated_logout_ends_the_tokens_of_the_session_and_their_exchanges(op):
    gw = gateway(op, "--post-logout-redirect-uris", "http://127.0.0.1:8765/out")
    orders = service(op, ORDERS)
    me = service(op, op.base + "/userinfo")
    user = op.user()
    browser = Browser(op)
    tokens = redeem(op, browser.sign_in(gw, user, scope=USER_SCOPE)).json()
    issued = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw))
    assert introspect(op, orders, issued["access_token"])["active"] is True
    out = browser.http.get(op.logout_url, params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:8765/out"},
                           allow_redirects=False, timeout=10)
    assert out.status_code in (302, 303)
    assert introspect(op, orders, issued["access_token"]) == INACTIVE
    assert introspect(op, me, tokens["access_token"]) == INACTIVE, "the session's own access token ends with it"


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_opaque_and_jwt_subject_tokens_and_the_requested_type(op, token_format):
    gw = gateway(op, token_format=token_format)
    orders = service(op, ORDERS)
    tokens, _ = signed_in(op, gw)
    assert tokens["access_token"].startswith("tsa_") == (token_format == "opaque")
    same = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw))
    assert same["access_token"].startswith("tsa_") == (token_format == "opaque"), "the client's own format by default"
    assert introspect(op, orders, same["access_token"])["act"] == {"sub": gw["client_id"]}
    as_jwt = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), requested_token_type=JWT)
    assert as_jwt["issued_token_type"] == JWT
    assert verify(op, as_jwt["access_token"], ORDERS)["act"] == {"sub": gw["client_id"]}


def test_an_id_token_is_a_subject_token_only_for_its_own_client(op):
    gw = gateway(op)
    other = gateway(op)
    tokens, user = signed_in(op, gw)
    answer = exchanged(op, gw, tokens["id_token"], subject_type=ID_TOKEN, actor=own_token(op, gw), scope="orders:read")
    assert verify(op, answer["access_token"], ORDERS)["sub"] == user["sub"]
    body = assert_token_error(exchange(op, other, tokens["id_token"], subject_type=ID_TOKEN, actor=own_token(op, other)), "invalid_request")
    assert "subject_token" in body["error_description"]
    # An ID token is not an access token, nor the other way round.
    assert_token_error(exchange(op, gw, tokens["id_token"], actor=own_token(op, gw)), "invalid_request")
    assert_token_error(exchange(op, gw, tokens["access_token"], subject_type=ID_TOKEN, actor=own_token(op, gw)), "invalid_request")


def test_the_lifetime_is_bounded_by_the_subject_token_and_the_client(op):
    short = gateway(op, "--access-token-ttl", "30s")
    tokens, _ = signed_in(op, short)
    answer = exchanged(op, short, tokens["access_token"], actor=own_token(op, short))
    assert answer["expires_in"] <= 30, "the client's access-token lifetime"
    # A service with a long lifetime gets no more than what is left of the token it exchanges.
    onward = service(op, ORDERS, "--access-token-ttl", "2h", exchange_audiences=PAYMENTS, depth=2)
    second = exchanged(op, onward, answer["access_token"], actor=own_token(op, onward))
    subject_exp = verify(op, answer["access_token"], ORDERS)["exp"]
    assert verify(op, second["access_token"], PAYMENTS)["exp"] <= subject_exp
    assert second["expires_in"] <= 30


def orders_exchanger(op):
    return service(op, ORDERS, exchange_audiences=PAYMENTS, depth=2)


# 2. Delegation chains

def test_a_nested_chain_carries_every_actor_and_dies_with_any_link(op):
    gw = gateway(op)
    orders = orders_exchanger(op)
    payments = service(op, PAYMENTS)
    tokens, user = signed_in(op, gw)
    first = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), resource=ORDERS, scope="orders:read orders:write")
    second = exchanged(op, orders, first["access_token"], actor=own_token(op, orders), resource=PAYMENTS, scope="orders:read")
    claims = verify(op, second["access_token"], PAYMENTS)
    # RFC 8693 §4.1: the outermost act is the current actor, nested ones are prior actors.
    assert claims["act"] == {"sub": orders["client_id"], "act": {"sub": gw["client_id"]}}
    assert claims["sub"] == user["sub"] and claims["client_id"] == orders["client_id"] and claims["scope"] == "orders:read"
    assert introspect(op, payments, second["access_token"])["act"] == claims["act"]
    # The gateway revokes the token it obtained: what was exchanged from it dies too.
    revoked = requests.post(op.base + "/revoke", auth=(gw["client_id"], gw["client_secret"]), data={"token": first["access_token"]}, timeout=10)
    assert revoked.status_code == 200
    assert becomes_inactive(op, payments, second["access_token"])


def test_revoking_the_subject_access_token_revokes_the_whole_chain(op):
    gw = gateway(op)
    orders = orders_exchanger(op)
    payments = service(op, PAYMENTS)
    tokens, _ = signed_in(op, gw)
    first = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), resource=ORDERS)
    second = exchanged(op, orders, first["access_token"], actor=own_token(op, orders), resource=PAYMENTS)
    assert introspect(op, payments, second["access_token"])["active"] is True
    assert requests.post(op.base + "/revoke", auth=(gw["client_id"], gw["client_secret"]), data={"token": tokens["access_token"]},
                         timeout=10).status_code == 200
    assert becomes_inactive(op, payments, second["access_token"])
    # And the revoked subject token cannot be exchanged any more.
    assert_token_error(exchange(op, gw, tokens["access_token"], actor=own_token(op, gw)), "invalid_request")


def test_disabling_the_gateway_revokes_what_was_exchanged_from_its_tokens(op):
    gw = gateway(op)
    orders = orders_exchanger(op)
    payments = service(op, PAYMENTS)
    tokens, _ = signed_in(op, gw)
    first = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), resource=ORDERS)
    second = exchanged(op, orders, first["access_token"], actor=own_token(op, orders), resource=PAYMENTS)
    op.cli("clients", "disable", gw["client_id"])
    assert becomes_inactive(op, payments, second["access_token"])


def test_the_chain_depth_is_limited_per_client(op):
    gw = gateway(op)
    shallow = service(op, ORDERS, exchange_audiences=PAYMENTS)
    tokens, _ = signed_in(op, gw)
    first = exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw), resource=ORDERS)
    body = assert_token_error(exchange(op, shallow, first["access_token"], actor=own_token(op, shallow)), "invalid_request")
    assert "too long" in body["error_description"]


def test_an_actor_token_must_be_the_clients_own(op):
    gw = gateway(op)
    bystander = service(op, ORDERS)
    tokens, _ = signed_in(op, gw)
    body = assert_token_error(exchange(op, gw, tokens["access_token"], actor=own_token(op, bystander)), "invalid_request")
    assert "actor_token" in body["error_description"]


def test_impersonation_is_refused_unless_the_client_may_impersonate(op):
    delegate_only = gateway(op)
    tokens, _ = signed_in(op, delegate_only)
    body = assert_token_error(exchange(op, delegate_only, tokens["access_token"]), "invalid_request")
    assert "actor_token" in body["error_description"]
    impersonator = gateway(op, impersonate=True)
    tokens, user = signed_in(op, impersonator)
    claims = verify(op, exchanged(op, impersonator, tokens["access_token"])["access_token"], ORDERS)
    assert claims["sub"] == user["sub"] and "act" not in claims
    # A delegated token is never exchanged by impersonation: its chain would be lost.
    delegated = exchanged(op, impersonator, tokens["access_token"], actor=own_token(op, impersonator), resource=ORDERS)
    onward = service(op, ORDERS, "--exchange-may-impersonate", "true", exchange_audiences=PAYMENTS, depth=2)
    assert_token_error(exchange(op, onward, delegated["access_token"]), "invalid_request")


# 3. Scope, audience and request rules (RFC 8693 §2.2.2)

def test_scope_never_widens(op):
    gw = gateway(op)
    tokens, _ = signed_in(op, gw, scope="openid orders:read")
    assert exchanged(op, gw, tokens["access_token"], actor=own_token(op, gw))["scope"] == "openid orders:read"
    assert_token_error(exchange(op, gw, tokens["access_token"], actor=own_token(op, gw), scope="orders:write"), "invalid_scope")
    assert_token_error(exchange(op, gw, tokens["access_token"], actor=own_token(op, gw), scope="orders:read admin"), "invalid_scope")
    assert_token_error(exchange(op, gw, tokens["access_token"], actor=own_token(op, gw), scope="bad\"scope"), "invalid_scope")


def test_an_audience_outside_the_policy_is_invalid_target(op):
    gw = gateway(op)
    tokens, _ = signed_in(op, gw)
    actor = own_token(op, gw)
    for target in ({"resource": "https://elsewhere.internal"}, {"audience": "billing-service"}, {"resource": "not a uri"},
                   {"resource": ORDERS + "#frag"}):
        assert_token_error(exchange(op, gw, tokens["access_token"], actor=actor, **target), "invalid_target")
    both = exchanged(op, gw, tokens["access_token"], actor=actor, resource=ORDERS, audience="orders-service")
    assert verify(op, both["access_token"], ORDERS)["aud"] == [ORDERS, "orders-service"]


def test_malformed_requests_are_invalid_request(op):
    gw = gateway(op)
    tokens, _ = signed_in(op, gw)
    subject = tokens["access_token"]
    actor = own_token(op, gw)
    cases = [
        {"subject_token": None},
        {"subject_token_type": None},
        {"subject_token_type": "urn:ietf:params:oauth:token-type:saml2"},
        {"subject_token_type": "access_token"},
        {"actor_token": actor, "actor_token_type": None},
        {"actor_token": None, "actor_token_type": ACCESS_TOKEN},
        {"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
        {"requested_token_type": ID_TOKEN},
    ]
    for case in cases:
        data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": ACCESS_TOKEN, "actor_token": actor,
                "actor_token_type": ACCESS_TOKEN}
        data.update(case)
        data = {k: v for k, v in data.items() if v is not None}
        response = requests.post(op.token_url, auth=(gw["client_id"], gw["client_secret"]), data=data, timeout=10)
        assert_token_error(response, "invalid_request")
    repeated = f"grant_type={EXCHANGE}&subject_token=a&subject_token=b&subject_token_type={ACCESS_TOKEN}"
    response = requests.post(op.token_url, auth=(gw["client_id"], gw["client_secret"]), data=repeated,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert_token_error(response, "invalid_request")


def test_a_client_not_registered_for_the_grant_is_unauthorized(op):
    plain = service(op, ORDERS)
    gw = gateway(op)
    tokens, _ = signed_in(op, gw)
    assert_token_error(exchange(op, plain, tokens["access_token"], actor=own_token(op, plain)), "unauthorized_client")
    unauthenticated = requests.post(op.token_url, data={"grant_type": EXCHANGE, "subject_token": tokens["access_token"],
                                                        "subject_token_type": ACCESS_TOKEN, "client_id": gw["client_id"]}, timeout=10)
    assert_token_error(unauthenticated, "invalid_client", status=401)


def test_expired_revoked_foreign_and_other_clients_subject_tokens_are_refused(op):
    short = gateway(op, "--access-token-ttl", "1s")
    expiring, _ = signed_in(op, short)
    gw = gateway(op)
    tokens, _ = signed_in(op, gw)
    revoked_subject, _ = signed_in(op, gw)
    assert requests.post(op.base + "/revoke", auth=(gw["client_id"], gw["client_secret"]),
                         data={"token": revoked_subject["access_token"]}, timeout=10).status_code == 200
    other = gateway(op)
    others, _ = signed_in(op, other)
    key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    foreign = jwt.encode({"iss": op.issuer, "sub": str(uuid.uuid4()), "aud": op.base + "/userinfo", "exp": now + 600, "iat": now,
                          "jti": "forged", "client_id": gw["client_id"], "scope": "orders:read"}, key, algorithm="ES256",
                         headers={"typ": "at+jwt", "kid": "forged"})
    unknown_issuer = jwt.encode({"iss": "https://nobody.example", "sub": "x", "aud": "y", "exp": now + 600}, key, algorithm="ES256")
    tampered = tokens["access_token"][:-4] + ("AAAA" if not tokens["access_token"].endswith("AAAA") else "BBBB")
    time.sleep(1.5)
    actor = own_token(op, gw)
    for subject in (revoked_subject["access_token"], others["access_token"], foreign, unknown_issuer, tampered, "garbage", "tsa_k1.AAAA",
                    "a" * 20000):
        body = assert_token_error(exchange(op, gw, subject, actor=actor), "invalid_request")
        assert body["error_description"] == "The subject_token is invalid, expired, revoked, or not acceptable here."
    body = assert_token_error(exchange(op, short, expiring["access_token"], actor=own_token(op, short)), "invalid_request")
    assert "subject_token" in body["error_description"]
    assert exchange(op, gw, tokens["access_token"], actor=actor).status_code == 200


def test_concurrent_exchanges_of_one_token_each_get_their_own_token(op):
    gw = gateway(op)
    orders = service(op, ORDERS)
    tokens, _ = signed_in(op, gw)
    actor = own_token(op, gw)
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda _: exchange(op, gw, tokens["access_token"], actor=actor), range(48)))
    assert all(response.status_code == 200 for response in responses), [r.text for r in responses if r.status_code != 200][:3]
    issued = [response.json()["access_token"] for response in responses]
    jtis = {jwt.decode(token, options={"verify_signature": False})["jti"] for token in issued}
    assert len(jtis) == len(issued)
    assert all(introspect(op, orders, token)["active"] for token in issued[:5])


def test_cli_shows_the_exchange_policy_and_refuses_bad_ones(op):
    gw = gateway(op, impersonate=True, depth=3)
    shown = op.cli_json("clients", "show", gw["client_id"])
    assert shown["exchange_audiences"] == [ORDERS, PAYMENTS, "orders-service"]
    assert shown["exchange_may_impersonate"] is True and shown["exchange_max_depth"] == 3
    for args in (["--exchange-max-depth", "9"], ["--exchange-audiences", ""]):
        result = op.cli("clients", "update", gw["client_id"], *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    public = op.cli("clients", "create", "--type", "public", "--grant-types", EXCHANGE, "--exchange-audiences", ORDERS)
    assert public.returncode == 2 and "confidential" in public.stderr


def test_discovery_lists_the_grant(op):
    document = requests.get(op.base + "/.well-known/openid-configuration", timeout=10).json()
    assert EXCHANGE in document["grant_types_supported"]


# 4. Tokens of a trusted external identity provider

class IdentityProvider:
    """An external identity provider: its signing key, its JWKS, and tokens it signs."""

    def __init__(self, issuer=IDP, kid="idp-1"):
        self.issuer = issuer
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = kid

    def jwks(self):
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="ES256")
        return {"keys": [public]}

    def token(self, key=None, **claims):
        now = int(time.time())
        body = {"iss": self.issuer, "sub": "alice@example.com", "aud": IDP_AUDIENCE, "exp": now + 300, "iat": now,
                "scope": "orders:read orders:write"}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="ES256", headers={"kid": self.kid, "typ": "JWT"})


def trusted(op, idp, tmp_path, *args):
    path = tmp_path / f"jwks-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(idp.jwks()))
    return op.cli_json("issuers", "add", "--issuer", idp.issuer, "--jwks-file", str(path), "--audiences", IDP_AUDIENCE, *args)


def eventually(call, predicate, within=5.0):
    deadline = time.time() + within
    while True:
        result = call()
        if predicate(result) or time.time() > deadline:
            return result
        time.sleep(0.05)


def test_an_external_issuers_token_is_exchanged_with_its_subject_prefixed(op, tmp_path):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    registered = trusted(op, idp, tmp_path, "--subject-prefix", "corp:")
    assert registered["issuer"] == idp.issuer and registered["subject_prefix"] == "corp:"
    gw = gateway(op)
    orders = service(op, ORDERS)
    actor = own_token(op, gw)
    response = eventually(lambda: exchange(op, gw, idp.token(), subject_type=JWT, actor=actor, scope="orders:read"),
                          lambda r: r.status_code == 200)
    assert response.status_code == 200, response.text
    claims = verify(op, response.json()["access_token"], ORDERS)
    assert claims["sub"] == "corp:alice@example.com" and claims["scope"] == "orders:read" and claims["act"] == {"sub": gw["client_id"]}
    seen = introspect(op, orders, response.json()["access_token"])
    assert seen["active"] is True and "username" not in seen
    # Scope of the external token bounds the exchange too.
    assert_token_error(exchange(op, gw, idp.token(scope="orders:read"), subject_type=JWT, actor=actor, scope="orders:write"), "invalid_scope")
    assert exchanged(op, gw, idp.token(scope=None, scp=["orders:read"]), subject_type=ACCESS_TOKEN, actor=actor)["scope"]


def test_external_tokens_with_bad_signatures_or_claims_are_refused(op, tmp_path):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    trusted(op, idp, tmp_path, "--subject-prefix", "corp:")
    gw = gateway(op)
    actor = own_token(op, gw)
    good = eventually(lambda: exchange(op, gw, idp.token(), subject_type=JWT, actor=actor), lambda r: r.status_code == 200)
    assert good.status_code == 200, good.text
    impostor = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    bad = [
        idp.token(key=impostor),                                   # signed with another key
        idp.token(aud="someone-else"),                             # not for a registered audience
        idp.token(exp=now - 5),                                    # expired
        idp.token(exp=None),                                       # never expires
        idp.token(nbf=now + 600),                                  # not yet valid
        idp.token(iat=now + 600),                                  # from the future
        idp.token(sub=None),                                       # no subject
        idp.token(scope=12),                                       # scope not a string
        idp.token(act={"iss": IDP}),                               # act without sub
        jwt.encode({"iss": idp.issuer, "sub": "x", "aud": IDP_AUDIENCE, "exp": now + 60}, "secret", algorithm="HS256"),
    ]
    for token in bad:
        assert_token_error(exchange(op, gw, token, subject_type=JWT, actor=actor), "invalid_request")
    typed = jwt.encode({"iss": idp.issuer, "sub": "x", "aud": IDP_AUDIENCE, "exp": now + 60}, idp.key, algorithm="ES256",
                       headers={"kid": idp.kid, "typ": "logout+jwt"})
    assert_token_error(exchange(op, gw, typed, subject_type=JWT, actor=actor), "invalid_request")
    # Removed, the issuer is no longer trusted.
    assert op.cli("issuers", "remove", idp.issuer).returncode == 0
    refused = eventually(lambda: exchange(op, gw, idp.token(), subject_type=JWT, actor=actor), lambda r: r.status_code == 400)
    assert_token_error(refused, "invalid_request")


def test_an_external_uuid_subject_needs_a_prefix(op, tmp_path):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    trusted(op, idp, tmp_path)
    gw = gateway(op)
    actor = own_token(op, gw)
    named = eventually(lambda: exchange(op, gw, idp.token(), subject_type=JWT, actor=actor), lambda r: r.status_code == 200)
    assert named.status_code == 200, named.text
    # A UUID is the form of this server's users' subjects: without a prefix it could name one of them.
    assert_token_error(exchange(op, gw, idp.token(sub=str(uuid.uuid4())), subject_type=JWT, actor=actor), "invalid_request")


def test_may_act_restricts_who_may_act(op, tmp_path):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    trusted(op, idp, tmp_path, "--subject-prefix", "corp:")
    gw = gateway(op, impersonate=True)
    actor = own_token(op, gw)
    allowed = idp.token(may_act={"sub": gw["client_id"], "iss": op.issuer})
    response = eventually(lambda: exchange(op, gw, allowed, subject_type=JWT, actor=actor), lambda r: r.status_code == 200)
    assert response.status_code == 200, response.text
    assert exchange(op, gw, allowed, subject_type=JWT).status_code == 200, "the client itself is the acting party"
    for may_act in ({"sub": "admin@example.com"}, {"sub": gw["client_id"], "iss": "https://elsewhere.example"}):
        body = assert_token_error(exchange(op, gw, idp.token(may_act=may_act), subject_type=JWT, actor=actor), "invalid_request")
        assert "subject_token" in body["error_description"]


class JWKSServer:
    """Publishes an identity provider's JWKS over HTTP on loopback; the keys can change while it runs."""

    def __init__(self):
        self.document = {"keys": []}
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests += 1
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def jwks_server():
    server = JWKSServer()
    yield server
    server.close()


def test_keys_published_at_a_jwks_uri_are_fetched_and_follow_a_rotation(op, jwks_server):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    jwks_server.document = idp.jwks()
    op.cli_json("issuers", "add", "--issuer", idp.issuer, "--jwks-uri", jwks_server.url, "--audiences", IDP_AUDIENCE,
                "--subject-prefix", "corp:")
    gw = gateway(op)
    actor = own_token(op, gw)
    first = eventually(lambda: exchange(op, gw, idp.token(), subject_type=JWT, actor=actor), lambda r: r.status_code == 200)
    assert first.status_code == 200, first.text
    # The provider rotates to a new key: a token naming the new kid makes the server fetch the keys again.
    rotated = IdentityProvider(issuer=idp.issuer, kid="idp-2")
    jwks_server.document = rotated.jwks()
    second = eventually(lambda: exchange(op, gw, rotated.token(), subject_type=JWT, actor=actor), lambda r: r.status_code == 200, within=40)
    assert second.status_code == 200, second.text
    # The old key is gone from the published set only after the server fetched it: tokens under it are refused.
    assert_token_error(exchange(op, gw, idp.token(), subject_type=JWT, actor=actor), "invalid_request")


def test_issuer_registration_rules(op, tmp_path):
    idp = IdentityProvider(issuer=f"https://{unique('idp')}.example")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(idp.jwks()))
    bad = [
        ["--issuer", "not a uri", "--jwks-file", str(path), "--audiences", "a"],
        ["--issuer", idp.issuer, "--audiences", "a"],
        ["--issuer", idp.issuer, "--jwks-file", str(path), "--jwks-uri", "https://x.example/jwks", "--audiences", "a"],
        ["--issuer", idp.issuer, "--jwks-uri", "http://idp.example/jwks", "--audiences", "a"],
        ["--issuer", idp.issuer, "--jwks-file", str(path)],
        ["--issuer", idp.issuer, "--jwks-file", str(path), "--audiences", "a", "--subject-prefix", "has space"],
    ]
    for args in bad:
        result = op.cli("issuers", "add", *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (args, result.stderr)
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(idp.key))
    path.write_text(json.dumps({"keys": [private]}))
    result = op.cli("issuers", "add", "--issuer", idp.issuer, "--jwks-file", str(path), "--audiences", "a")
    assert result.returncode == 2 and "private" in result.stderr
    listed = op.cli_json("issuers", "list")
    assert all(entry["issuer"] != idp.issuer for entry in listed)


# 5. Several instances

def test_an_exchanged_token_dies_on_every_instance_within_a_second(tmp_path):
    servers = []
    try:
        (tmp_path / "a").mkdir()
        first = launch(tmp_path / "a")
        a = next(first)
        servers.append(first)
        psql_database = a.env["PGDATABASE"]
        second = launch_on(tmp_path / "b", psql_database, a)
        b = next(second)
        servers.append(second)
        gw = gateway(a)
        orders = service(a, ORDERS)
        user = a.user()
        browser = Browser(a)
        tokens = redeem(a, browser.sign_in(gw, user, scope=USER_SCOPE)).json()
        issued = exchanged(a, gw, tokens["access_token"], actor=own_token(a, gw))["access_token"]
        assert introspect(b, orders, issued)["active"] is True
        a.cli_json("tokens", "revoke", "--user", user["username"])
        # Within a second on an idle machine; the bound allows for a loaded one.
        assert becomes_inactive(b, orders, issued, within=5.0)
    finally:
        for generator in reversed(servers):
            generator.close()


def launch_on(folder, database, sibling):
    """A second server on the sibling's database and key-encryption key."""
    import os
    import subprocess
    from conftest import ROOT, tessera_bin, wait_until_serving
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = dict(os.environ)
    environment.update(sibling.env)
    environment["PGDATABASE"] = database
    environment["TESSERA_ISSUER"] = sibling.issuer
    for limit in ("TOKEN", "INTROSPECTION", "REVOCATION", "TOKEN_FAILURES", "BROWSER"):
        environment[f"TESSERA_RATE_LIMIT_{limit}"] = "0"
    environment["TESSERA_ADMIN_LISTEN"] = f"127.0.0.1:{free_port()}"
    log = open(folder / "tessera.log", "w")
    process = subprocess.Popen([tessera_bin(), "serve", "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=environment,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(base, process)
        yield Provider(base, sibling.env, issuer=sibling.issuer)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
