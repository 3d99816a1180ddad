"""Clients, client authentication and the client_credentials grant, seen by clients we did not write.

Authlib fetches tokens (client_secret_basic, client_secret_post, private_key_jwt); PyJWT checks them
against the served JWKS; requests sends the malformed and hostile requests by hand; clients are
registered with the `tessera clients` CLI, as an operator would.
"""
import base64
import json
import os
import subprocess
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from joserfc.jwk import ECKey, RSAKey
from jwcrypto import jwk

from conftest import ROOT, tessera_bin, SourceAddress

API = "https://api.example.com"
REPORTS = "https://reports.example.com/v1"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# RFC 6749 §5.1 and §5.2: every token response and error carries these.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class Tessera:
    """One running server on its own database, and the CLI pointed at the same database."""

    def __init__(self, server, database, keys_dir):
        self.server = server
        self.base = server.base
        self.issuer = server.base
        self.token_url = server.base + "/token"
        self.jwks_url = server.base + "/.well-known/jwks.json"
        self.env = {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir}

    def cli(self, *args):
        environment = dict(os.environ)
        environment.update(self.env)
        return subprocess.run([tessera_bin(), "clients", *args], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    def cli_json(self, *args):
        result = self.cli(*args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def create(self, client_id, *args):
        """Registers a client_credentials client for API unless `args` say otherwise."""
        defaults = []
        if "--grant-types" not in args:
            defaults += ["--grant-types", "client_credentials"]
        if "--audiences" not in args:
            defaults += ["--audiences", API]
        return self.cli_json("create", "--id", client_id, *defaults, *args)

    def post(self, data, auth=None, headers=None, session=None):
        return (session or requests).post(self.token_url, data=data, auth=auth, headers=headers, timeout=30)

    def basic(self, client_id, secret, data=None, session=None):
        """client_secret_basic done by hand, with RFC 6749 §2.3.1's form-encoding of both halves."""
        return self.post({"grant_type": "client_credentials", **(data or {})},
                         headers={"Authorization": basic_header(client_id, secret)}, session=session)

    def secret_post(self, client_id, secret, data=None):
        return self.post({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, **(data or {})})


def basic_header(client_id, secret, encode=True):
    def form(value):
        return urllib.parse.quote_plus(value, safe="") if encode else value
    return "Basic " + base64.b64encode(f"{form(client_id)}:{form(secret)}".encode()).decode()


@pytest.fixture
def tessera(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database)
    return Tessera(server, database, keys_dir)


def assert_no_store(response):
    for name, value in NO_STORE.items():
        assert response.headers.get(name) == value, f"{name} on {response.status_code}: {response.headers}"


def assert_error(response, status, error):
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error, body
    assert isinstance(body.get("error_description"), str) and body["error_description"]
    assert_no_store(response)
    return body


def verify_access_token(tessera, token, client_id, audience, scope, alg="ES256"):
    """Checks an RFC 9068 access token with PyJWT against the served JWKS; returns its claims."""
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == alg
    jwks = requests.get(tessera.jwks_url, timeout=5).json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    signing_key = jwt.PyJWKClient(tessera.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=[alg], audience=audience, issuer=tessera.issuer,
                        options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
    assert claims["sub"] == client_id
    assert claims["client_id"] == client_id
    assert claims["scope"] == scope
    assert claims["exp"] > claims["iat"] >= int(time.time()) - 60
    assert claims["jti"]
    return claims


def rsa_client_key():
    """A client key pair made by jwcrypto: the private PEM, and the public JWKS to register."""
    key = jwk.JWK.generate(kty="RSA", size=2048, kid="client-rsa-1", alg="RS256", use="sig")
    public = json.loads(key.export_public())
    return key.export_to_pem(private_key=True, password=None), {"keys": [public]}


def ec_client_key():
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="client-ec-1", alg="ES256", use="sig")
    public = json.loads(key.export_public())
    return key.export_to_pem(private_key=True, password=None), {"keys": [public]}


class ShortPrivateKeyJWT(PrivateKeyJWT):
    """authlib's PrivateKeyJWT with an assertion lifetime of 2 minutes instead of authlib's default hour."""

    lifetime = 120

    def sign(self, auth, token_endpoint):
        key = auth.client_secret
        if not isinstance(key, (RSAKey, ECKey)):
            key = RSAKey.import_key(key)
        return private_key_jwt_sign(key, client_id=auth.client_id, token_endpoint=token_endpoint,
                                    alg=self.alg, expires_in=self.lifetime)


# Discovery

def test_discovery_lists_the_token_endpoint_and_its_methods(tessera):
    document = requests.get(tessera.base + "/.well-known/openid-configuration", timeout=5).json()
    assert document["token_endpoint"] == tessera.issuer + "/token"
    assert set(document["grant_types_supported"]) == {"authorization_code", "client_credentials", "refresh_token"}
    # "none": public clients (PKCE) identify themselves with client_id alone.
    assert set(document["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "private_key_jwt",
                                                                      "none"}
    assert set(document["token_endpoint_auth_signing_alg_values_supported"]) == {"RS256", "ES256"}


# 1. authlib fetches tokens with each authentication method

@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_fetches_a_token_with_a_secret(tessera, method):
    created = tessera.create("svc-" + method, "--auth-method", method, "--scopes", "invoices:read invoices:write",
                             "--default-scopes", "invoices:read", "--audiences", f"{API} {REPORTS}")
    assert created["token_endpoint_auth_method"] == method
    session = OAuth2Session(created["client_id"], created["client_secret"], token_endpoint_auth_method=method)
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "invoices:read", "no scope requested: the default scopes"
    assert "refresh_token" not in token, "RFC 6749 §4.4.3: no refresh token for client_credentials"
    claims = verify_access_token(tessera, token["access_token"], created["client_id"], API, "invoices:read")
    assert claims["aud"] in (API, [API]), "no resource named: the first registered audience"
    assert token["expires_in"] == claims["exp"] - claims["iat"]

    token = session.fetch_token(tessera.token_url, grant_type="client_credentials",
                                scope="invoices:read invoices:write", resource=REPORTS)
    assert set(token["scope"].split()) == {"invoices:read", "invoices:write"}
    claims = verify_access_token(tessera, token["access_token"], created["client_id"], REPORTS, token["scope"])
    assert claims["aud"] in (REPORTS, [REPORTS])


def test_authlib_client_secret_basic_token_signed_with_rs256(tessera):
    created = tessera.create("svc-rs256", "--scopes", "a", "--signing-alg", "RS256")
    assert created["signing_alg"] == "RS256"
    session = OAuth2Session(created["client_id"], created["client_secret"])
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    verify_access_token(tessera, token["access_token"], created["client_id"], API, "a", alg="RS256")


def test_authlib_private_key_jwt_with_its_default_one_hour_assertion_is_refused(tessera):
    private_pem, public_jwks = rsa_client_key()
    created = tessera.create("svc-pkjwt-long", "--auth-method", "private_key_jwt", "--jwks", json.dumps(public_jwks), "--scopes", "a")
    assert "client_secret" not in created
    session = OAuth2Session(created["client_id"], private_pem, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(tessera.issuer))
    # authlib signs exp = iat + 3600; the server allows at most 5 minutes ahead.
    with pytest.raises(AuthlibOAuthError) as refused:
        session.fetch_token(tessera.token_url, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
def test_authlib_private_key_jwt_with_a_short_assertion_gets_a_token(tessera, kind):
    private_pem, public_jwks = rsa_client_key() if kind == "RS256" else ec_client_key()
    created = tessera.create("svc-pkjwt-" + kind, "--auth-method", "private_key_jwt", "--jwks", json.dumps(public_jwks),
                             "--scopes", "a b", "--default-scopes", "a")
    assert "client_secret" not in created and created["secrets"] == []
    key = RSAKey.import_key(private_pem) if kind == "RS256" else ECKey.import_key(private_pem)
    session = OAuth2Session(created["client_id"], key, token_endpoint_auth_method="private_key_jwt")
    # The audience is the issuer identifier (draft-ietf-oauth-rfc7523bis), not authlib's default token endpoint.
    auth = ShortPrivateKeyJWT(tessera.issuer, alg=kind)
    session.register_client_auth_method(auth)
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials", scope="a b")
    assert "refresh_token" not in token
    verify_access_token(tessera, token["access_token"], created["client_id"], API, "a b")
    # A second fetch signs a fresh assertion (new jti) and is accepted too.
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    verify_access_token(tessera, token["access_token"], created["client_id"], API, "a")


def test_private_key_jwt_assertion_rules(tessera):
    private_pem, public_jwks = rsa_client_key()
    created = tessera.create("svc-pkjwt", "--auth-method", "private_key_jwt", "--jwks", json.dumps(public_jwks), "--scopes", "a")
    key = RSAKey.import_key(private_pem)

    def send(assertion):
        return tessera.post({"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                             "client_assertion": assertion})

    def sign(**kwargs):
        return private_key_jwt_sign(key, client_id=created["client_id"], alg="RS256", **kwargs)

    # draft-ietf-oauth-rfc7523bis: aud is the issuer identifier as a single string; the token endpoint
    # URL (RFC 7523's old suggestion) and any array are refused, so an assertion made for another
    # server or endpoint cannot be replayed here.
    assert_error(send(sign(token_endpoint=tessera.token_url, expires_in=60)), 401, "invalid_client")
    now = int(time.time())
    as_array = jwt.encode({"iss": created["client_id"], "sub": created["client_id"], "aud": [tessera.issuer],
                           "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}, private_pem, algorithm="RS256",
                          headers={"kid": "client-rsa-1"})
    assert_error(send(as_array), 401, "invalid_client")
    assertion = sign(token_endpoint=tessera.issuer, expires_in=60)
    first = send(assertion)
    assert first.status_code == 200, first.text
    # OIDC Core §9: assertions "MUST only be used once".
    assert_error(send(assertion), 401, "invalid_client")
    assert_error(send(sign(token_endpoint="https://elsewhere.example.com", expires_in=60)), 401, "invalid_client")
    # exp more than 5 minutes ahead
    assert_error(send(sign(token_endpoint=tessera.issuer, expires_in=600)), 401, "invalid_client")
    # already expired
    assert_error(send(sign(token_endpoint=tessera.issuer, issued_at=int(time.time()) - 600, expires_in=60)), 401, "invalid_client")
    # signed by a key that is not the registered one
    other_pem, _ = rsa_client_key()
    stranger = private_key_jwt_sign(RSAKey.import_key(other_pem), client_id=created["client_id"],
                                    token_endpoint=tessera.issuer, alg="RS256", expires_in=60)
    assert_error(send(stranger), 401, "invalid_client")
    # no jti
    unsigned_jti = jwt.encode({"iss": created["client_id"], "sub": created["client_id"], "aud": tessera.issuer,
                               "iat": now, "exp": now + 60}, private_pem, algorithm="RS256", headers={"kid": "client-rsa-1"})
    assert_error(send(unsigned_jti), 401, "invalid_client")
    # alg none
    none_alg = jwt.encode({"iss": created["client_id"], "sub": created["client_id"], "aud": tessera.issuer,
                           "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex}, None, algorithm="none")
    assert_error(send(none_alg), 401, "invalid_client")


# 2. Basic credentials are form-encoded before base64 (RFC 6749 §2.3.1)

def test_basic_credentials_with_reserved_characters(tessera):
    client_id = "svc:a/b%c+d"
    created = tessera.create(client_id, "--scopes", "a")
    assert created["client_id"] == client_id
    ok = tessera.basic(client_id, created["client_secret"])
    assert ok.status_code == 200, ok.text
    claims = verify_access_token(tessera, ok.json()["access_token"], client_id, API, "a")
    assert claims["sub"] == client_id
    # The same id sent raw: the colon splits it as "svc", the rest becomes part of the "secret".
    raw = tessera.post({"grant_type": "client_credentials"},
                       headers={"Authorization": basic_header(client_id, created["client_secret"], encode=False)})
    assert_error(raw, 401, "invalid_client")
    assert raw.headers["WWW-Authenticate"].startswith("Basic")


def test_basic_credentials_with_plus_and_slash_need_form_encoding(tessera):
    client_id = "svc/a+b"
    created = tessera.create(client_id, "--scopes", "a")
    assert tessera.basic(client_id, created["client_secret"]).status_code == 200
    # Unencoded, "+" form-decodes to a space: no such client.
    raw = tessera.post({"grant_type": "client_credentials"},
                       headers={"Authorization": basic_header(client_id, created["client_secret"], encode=False)})
    assert_error(raw, 401, "invalid_client")
    assert raw.headers["WWW-Authenticate"].startswith("Basic")


def test_undecodable_basic_credentials_are_invalid_client(tessera):
    # RFC 6749 §5.2: authentication tried through the Authorization header fails with 401 and WWW-Authenticate.
    for header in ("Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon-here").decode(), "Basic"):
        response = tessera.post({"grant_type": "client_credentials"}, headers={"Authorization": header})
        assert_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"].lower().startswith("basic")


# 3. Failed authentication

def test_wrong_secret_and_unknown_client_are_indistinguishable(tessera):
    created = tessera.create("svc-known", "--scopes", "a")
    wrong = tessera.basic("svc-known", "x" * 43)
    unknown = tessera.basic("svc-nobody", "x" * 43)
    for response in (wrong, unknown):
        assert_error(response, 401, "invalid_client")
        # RFC 6749 §5.2: 401 with WWW-Authenticate matching the scheme the client used.
        assert response.headers["WWW-Authenticate"].lower().startswith("basic")
    assert wrong.content == unknown.content
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    # client_secret_post failures: no Authorization header, so no WWW-Authenticate.
    post_unknown = tessera.secret_post("svc-nobody", "x" * 43)
    assert_error(post_unknown, 401, "invalid_client")
    assert "WWW-Authenticate" not in post_unknown.headers
    assert post_unknown.content == wrong.content
    assert tessera.basic("svc-known", created["client_secret"]).status_code == 200


def test_only_the_registered_method_is_accepted(tessera):
    basic = tessera.create("svc-basic-only", "--auth-method", "client_secret_basic", "--scopes", "a")
    post = tessera.create("svc-post-only", "--auth-method", "client_secret_post", "--scopes", "a")
    wrong_method = tessera.secret_post("svc-basic-only", basic["client_secret"])
    assert_error(wrong_method, 401, "invalid_client")
    assert "WWW-Authenticate" not in wrong_method.headers
    wrong_method = tessera.basic("svc-post-only", post["client_secret"])
    assert_error(wrong_method, 401, "invalid_client")
    assert wrong_method.headers["WWW-Authenticate"].lower().startswith("basic")
    assert tessera.basic("svc-basic-only", basic["client_secret"]).status_code == 200
    assert tessera.secret_post("svc-post-only", post["client_secret"]).status_code == 200
    # A confidential client that sends only its client_id proves nothing.
    assert_error(tessera.post({"grant_type": "client_credentials", "client_id": "svc-post-only"}), 401, "invalid_client")


def test_disabled_client_is_refused_at_once_and_enable_restores_it(tessera):
    created = tessera.create("svc-toggle", "--scopes", "a")
    secret = created["client_secret"]
    assert tessera.basic("svc-toggle", secret).status_code == 200  # now verified and cached
    assert tessera.cli("disable", "svc-toggle").returncode == 0
    assert tessera.cli_json("show", "svc-toggle")["disabled"] is True
    assert_error(tessera.basic("svc-toggle", secret), 401, "invalid_client")
    assert tessera.cli("enable", "svc-toggle").returncode == 0
    again = tessera.basic("svc-toggle", secret)
    assert again.status_code == 200, again.text


def assert_status(response, status):
    assert response.status_code == status, (response.status_code, response.text)


def test_disable_and_rotation_reach_every_instance_at_once(start_server, database, keys_dir):
    first = Tessera(start_server(args=["--migrate"], database=database), database, keys_dir)
    second = Tessera(start_server(database=database), database, keys_dir)
    created = first.create("svc-two-instances", "--scopes", "a")
    secret = created["client_secret"]
    for instance in (first, second):
        assert instance.basic("svc-two-instances", secret).status_code == 200  # cached on each
    def within_a_moment(check):
        # The change reaches each instance with its announcement, a few milliseconds after the commit.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                return check()
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    assert first.cli("disable", "svc-two-instances").returncode == 0
    for instance in (first, second):
        within_a_moment(lambda: assert_error(instance.basic("svc-two-instances", secret), 401, "invalid_client"))
    assert first.cli("enable", "svc-two-instances").returncode == 0
    for instance in (first, second):
        within_a_moment(lambda: assert_status(instance.basic("svc-two-instances", secret), 200))
    new = first.cli_json("rotate-secret", "svc-two-instances")["client_secret"]
    for instance in (first, second):
        within_a_moment(lambda: assert_error(instance.basic("svc-two-instances", secret), 401, "invalid_client"))
        assert instance.basic("svc-two-instances", new).status_code == 200


def test_replayed_assertion_is_refused_by_another_instance(start_server, database, keys_dir):
    first = Tessera(start_server(args=["--migrate", "--issuer", "https://auth.example.com"], database=database), database, keys_dir)
    second = Tessera(start_server(args=["--issuer", "https://auth.example.com"], database=database), database, keys_dir)
    private_pem, public_jwks = ec_client_key()
    first.create("svc-replay", "--auth-method", "private_key_jwt", "--jwks", json.dumps(public_jwks), "--scopes", "a")
    # Behind a proxy the assertion names the public issuer identifier, not the address we reach.
    assertion = private_key_jwt_sign(ECKey.import_key(private_pem), client_id="svc-replay",
                                     token_endpoint="https://auth.example.com", alg="ES256", expires_in=60)
    data = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    accepted = first.post(data)
    assert accepted.status_code == 200, accepted.text
    assert jwt.decode(accepted.json()["access_token"], options={"verify_signature": False})["iss"] == "https://auth.example.com"
    assert_error(second.post(data), 401, "invalid_client")
    assert_error(first.post(data), 401, "invalid_client")


def test_rotated_secret_old_one_works_during_grace_then_stops(tessera):
    created = tessera.create("svc-rotate", "--scopes", "a")
    old = created["client_secret"]
    assert tessera.basic("svc-rotate", old).status_code == 200  # cached
    rotated = tessera.cli_json("rotate-secret", "svc-rotate", "--old-secret-valid-for", "8s")
    new = rotated["client_secret"]
    assert new != old and len(new) == 43
    assert len(rotated["secrets"]) == 2
    assert sorted(s["expires_at"] is None for s in rotated["secrets"]) == [False, True]
    started = time.time()
    assert tessera.basic("svc-rotate", old).status_code == 200, "within the grace period"
    assert tessera.basic("svc-rotate", new).status_code == 200
    assert time.time() - started < 6.5, "the grace checks took too long to mean anything"
    time.sleep(max(0.0, started + 9.5 - time.time()))
    assert_error(tessera.basic("svc-rotate", old), 401, "invalid_client")
    assert tessera.basic("svc-rotate", new).status_code == 200


def test_rotation_without_grace_refuses_the_old_secret_at_once(tessera):
    created = tessera.create("svc-rotate0", "--scopes", "a")
    old = created["client_secret"]
    assert tessera.basic("svc-rotate0", old).status_code == 200  # cached
    new = tessera.cli_json("rotate-secret", "svc-rotate0", "--old-secret-valid-for", "0s")["client_secret"]
    assert_error(tessera.basic("svc-rotate0", old), 401, "invalid_client")
    assert tessera.basic("svc-rotate0", new).status_code == 200


def test_show_reports_rotation_grace_period(tessera):
    tessera.create("svc-rotate1h", "--scopes", "a")
    rotated = tessera.cli_json("rotate-secret", "svc-rotate1h", "--old-secret-valid-for", "1h")
    assert "client_secret" in rotated
    shown = tessera.cli_json("show", "svc-rotate1h")
    assert "client_secret" not in shown
    assert rotated["client_secret"] not in json.dumps(shown)
    assert len(shown["secrets"]) == 2


# 4. Scope and audience

def test_scope_and_audience_rules(tessera):
    created = tessera.create("svc-scope", "--auth-method", "client_secret_post", "--scopes", "a b c", "--default-scopes", "a",
                             "--audiences", f"{API} {REPORTS}")
    secret = created["client_secret"]

    def token(**data):
        return tessera.secret_post("svc-scope", secret, data)

    ok = token()
    assert ok.status_code == 200 and ok.json()["scope"] == "a"
    ok = token(scope="b c")
    assert ok.status_code == 200 and set(ok.json()["scope"].split()) == {"b", "c"}
    # RFC 6749 §3.3: never narrowed silently.
    assert_error(token(scope="a d"), 400, "invalid_scope")
    assert_error(token(scope="d"), 400, "invalid_scope")
    # RFC 8707 §2: an audience the client is not registered for.
    assert_error(token(resource="https://other.example.com"), 400, "invalid_target")
    assert_error(token(audience="https://other.example.com"), 400, "invalid_target")
    assert_error(token(resource=API + "#frag"), 400, "invalid_target")
    assert_error(token(resource="api.example.com"), 400, "invalid_target")
    one = token(audience=REPORTS)
    assert one.status_code == 200
    claims = verify_access_token(tessera, one.json()["access_token"], "svc-scope", REPORTS, "a")
    assert claims["aud"] in (REPORTS, [REPORTS])
    # resource may repeat: the token is bound to both.
    both = tessera.post([("grant_type", "client_credentials"), ("client_id", "svc-scope"), ("client_secret", secret),
                         ("resource", API), ("resource", REPORTS)])
    assert both.status_code == 200, both.text
    claims = verify_access_token(tessera, both.json()["access_token"], "svc-scope", API, "a")
    assert isinstance(claims["aud"], list) and sorted(claims["aud"]) == sorted([API, REPORTS])
    # One allowed and one not: refused as a whole.
    mixed = tessera.post([("grant_type", "client_credentials"), ("client_id", "svc-scope"), ("client_secret", secret),
                          ("resource", API), ("resource", "https://other.example.com")])
    assert_error(mixed, 400, "invalid_target")


# 5. Request shape

def test_request_shape_errors(tessera):
    created = tessera.create("svc-shape", "--scopes", "a b")
    secret = created["client_secret"]
    auth = {"Authorization": basic_header("svc-shape", secret)}

    ok = tessera.basic("svc-shape", secret)
    assert ok.status_code == 200
    assert_no_store(ok)
    # RFC 6749 §3.2: parameters MUST NOT be included more than once.
    twice = tessera.post([("grant_type", "client_credentials"), ("scope", "a"), ("scope", "b")], headers=auth)
    assert_error(twice, 400, "invalid_request")
    twice = tessera.post([("grant_type", "client_credentials"), ("grant_type", "client_credentials")], headers=auth)
    assert_error(twice, 400, "invalid_request")
    # RFC 6749 §3.2: POST only.
    get = requests.get(tessera.token_url, params={"grant_type": "client_credentials"}, headers=auth, timeout=10)
    assert_error(get, 400, "invalid_request")
    as_json = requests.post(tessera.token_url, json={"grant_type": "client_credentials"}, headers=auth, timeout=10)
    assert_error(as_json, 400, "invalid_request")
    no_type = requests.post(tessera.token_url, data=b"grant_type=client_credentials", headers=auth, timeout=10)
    assert_error(no_type, 400, "invalid_request")
    assert_error(tessera.post({"grant_type": "password", "username": "u", "password": "p"}, headers=auth), 400, "unsupported_grant_type")
    assert_error(tessera.post({"grant_type": "urn:example:nonsense"}, headers=auth), 400, "unsupported_grant_type")
    assert_error(tessera.post({"scope": "a"}, headers=auth), 400, "invalid_request")
    # RFC 6749 §2.3: "MUST NOT use more than one authentication method in each request".
    both = tessera.post({"grant_type": "client_credentials", "client_id": "svc-shape", "client_secret": secret}, headers=auth)
    assert_error(both, 400, "invalid_request")
    # charset parameter on the media type is fine
    charset = requests.post(tessera.token_url, data=b"grant_type=client_credentials",
                            headers={**auth, "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, timeout=10)
    assert charset.status_code == 200, charset.text


def test_client_without_client_credentials_is_unauthorized_client(tessera):
    created = tessera.create("web-app", "--type", "confidential", "--grant-types", "authorization_code",
                             "--redirect-uris", "https://app.example.com/callback", "--scopes", "openid")
    assert created["grant_types"] == ["authorization_code"]
    response = tessera.basic("web-app", created["client_secret"])
    assert_error(response, 400, "unauthorized_client")


def test_secret_post_and_assertion_at_once_is_invalid_request(tessera):
    created = tessera.create("svc-two", "--auth-method", "client_secret_post", "--scopes", "a")
    response = tessera.post({"grant_type": "client_credentials", "client_id": "svc-two", "client_secret": created["client_secret"],
                             "client_assertion_type": ASSERTION_TYPE, "client_assertion": "a.b.c"})
    assert_error(response, 400, "invalid_request")


# 6. Opaque tokens and lifetimes

def test_opaque_token_and_client_lifetime(tessera):
    created = tessera.create("svc-opaque", "--scopes", "a", "--token-format", "opaque", "--access-token-ttl", "5m")
    assert created["access_token_format"] == "opaque" and created["access_token_ttl"] == 300
    session = OAuth2Session("svc-opaque", created["client_secret"])
    token = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    assert token["access_token"].startswith("tsa_")
    assert token["expires_in"] == 300
    assert token["token_type"] == "Bearer" and token["scope"] == "a"
    with pytest.raises(jwt.DecodeError):
        jwt.get_unverified_header(token["access_token"])
    assert token["access_token"].count(".") != 2
    other = session.fetch_token(tessera.token_url, grant_type="client_credentials")
    assert other["access_token"] != token["access_token"]


def test_jwt_lifetime_follows_access_token_ttl(tessera):
    created = tessera.create("svc-ttl", "--scopes", "a", "--access-token-ttl", "90s")
    response = tessera.basic("svc-ttl", created["client_secret"])
    assert response.json()["expires_in"] == 90
    claims = verify_access_token(tessera, response.json()["access_token"], "svc-ttl", API, "a")
    assert claims["exp"] - claims["iat"] == 90
    updated = tessera.cli_json("update", "svc-ttl", "--access-token-ttl", "2m")
    assert updated["access_token_ttl"] == 120 and "client_secret" not in updated
    deadline = time.time() + 5
    while tessera.basic("svc-ttl", created["client_secret"]).json()["expires_in"] != 120:
        assert time.time() < deadline, "the update is not in force within 5 s"
        time.sleep(0.1)


# 7. The CLI

def test_cli_shows_the_secret_once_and_never_again(tessera):
    created = tessera.create("svc-cli", "--name", "Billing", "--scopes", "x y", "--audiences", API)
    secret = created["client_secret"]
    assert len(secret) == 43 and set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert created["client_id"] == "svc-cli"
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["grant_types"] == ["client_credentials"]
    assert created["scope"] == "x y" and created["default_scope"] == "x y", "default scopes default to all scopes"
    assert created["audiences"] == [API]
    assert created["access_token_format"] == "jwt"
    assert created["disabled"] is False
    assert len(created["secrets"]) == 1 and created["secrets"][0]["expires_at"] is None
    assert created["secrets"][0]["created_at"]

    shown = tessera.cli("show", "svc-cli", "--json")
    listed = tessera.cli("list", "--json")
    text_show = tessera.cli("show", "svc-cli")
    text_list = tessera.cli("list")
    for result in (shown, listed, text_show, text_list):
        assert result.returncode == 0, result.stderr
        assert secret not in result.stdout and secret not in result.stderr
        assert "client_secret\"" not in result.stdout
        assert "$argon2" not in result.stdout, "not even the hash is shown"
    assert "client_secret" not in json.loads(shown.stdout)
    listing = json.loads(listed.stdout)
    assert isinstance(listing, list) and [c["client_id"] for c in listing] == ["svc-cli"]
    assert all("client_secret" not in c for c in listing)


def fails_with_one_line(result):
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_refuses_bad_input(tessera):
    tessera.create("svc-dup", "--scopes", "a")
    fails_with_one_line(tessera.cli("create", "--id", "svc-dup", "--audiences", API, "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-bad-aud", "--audiences", "not-a-uri", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-frag-aud", "--audiences", API + "#x", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-no-aud", "--grant-types", "client_credentials", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-bad-method", "--audiences", API, "--auth-method", "magic", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-no-jwks", "--audiences", API, "--auth-method", "private_key_jwt", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-defaults", "--audiences", API, "--scopes", "a", "--default-scopes", "b", "--json"))
    private_pem, public_jwks = rsa_client_key()
    private_jwks = {"keys": [json.loads(jwk.JWK.from_pem(private_pem).export_private())]}
    fails_with_one_line(tessera.cli("create", "--id", "svc-private-jwks", "--audiences", API, "--auth-method", "private_key_jwt",
                                    "--jwks", json.dumps(private_jwks), "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-public-cc", "--audiences", API, "--type", "public", "--json"))
    fails_with_one_line(tessera.cli("create", "--id", "svc-bad-ttl", "--audiences", API, "--access-token-ttl", "soon", "--json"))
    fails_with_one_line(tessera.cli("show", "nobody"))
    fails_with_one_line(tessera.cli("rotate-secret", "nobody"))
    fails_with_one_line(tessera.cli("disable", "nobody"))
    listing = tessera.cli_json("list")
    assert [c["client_id"] for c in listing] == ["svc-dup"], "nothing half-created"


def test_a_client_id_can_never_be_a_user_subject(tessera):
    environment = dict(os.environ)
    environment.update(tessera.env)
    user = json.loads(subprocess.run([tessera_bin(), "users", "create", "--username", "sub-person", "--password-stdin", "--json"],
                                     cwd=ROOT, env=environment, input="a long passphrase\n", capture_output=True, text=True,
                                     timeout=60, check=True).stdout)
    for client_id in (user["sub"], user["sub"].upper(), "5d1c8f0e-1111-4222-8333-444455556666"):
        assert "UUID" in fails_with_one_line(tessera.cli("create", "--id", client_id, "--audiences", API, "--json"))
    # A client's sub is its id, never of the form of a person's: a resource server tells them apart by it.
    created = tessera.create("svc-not-a-person", "--scopes", "a")
    token = tessera.basic("svc-not-a-person", created["client_secret"]).json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "svc-not-a-person"
    assert [c["client_id"] for c in tessera.cli_json("list")] == ["svc-not-a-person"]


def test_redirect_uris_are_refused_at_registration_unless_safe(tessera):
    def web(uri, option="--redirect-uris"):
        extra = ["--redirect-uris", "https://app.example.com/cb"] if option != "--redirect-uris" else []
        return tessera.cli("create", "--id", "web-" + str(abs(hash((uri, option)))), "--type", "public", "--auth-method", "none",
                           "--grant-types", "authorization_code", "--scopes", "openid", option, uri, *extra, "--json")
    for uri in ("http://app.example.com/cb", "https://app.example.com/cb#x", "https://*.example.com/cb",
                "https://app.example.com/*", "https://user@app.example.com/cb", "javascript:alert(1)",
                "http://127.0.0.1.evil.example/cb"):
        for option in ("--redirect-uris", "--post-logout-redirect-uris"):
            fails_with_one_line(web(uri, option))
    for uri in ("https://app.example.com/cb", "http://127.0.0.1:8765/cb", "http://[::1]/cb", "http://localhost:3000/cb",
                "com.example.app:/oauth"):
        assert web(uri).returncode == 0, uri


def test_cli_jwks_from_file(tessera, tmp_path):
    _, public_jwks = ec_client_key()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(public_jwks))
    created = tessera.create("svc-jwks-file", "--auth-method", "private_key_jwt", "--jwks", "@" + str(path), "--scopes", "a")
    assert created["jwks"]["keys"][0]["kid"] == "client-ec-1"
    assert "client_secret" not in created


def test_deleted_client_gets_invalid_client(tessera):
    created = tessera.create("svc-gone", "--scopes", "a")
    assert tessera.basic("svc-gone", created["client_secret"]).status_code == 200  # cached
    assert tessera.cli("delete", "svc-gone").returncode == 0
    assert_error(tessera.basic("svc-gone", created["client_secret"]), 401, "invalid_client")
    assert tessera.cli_json("list") == []
    fails_with_one_line(tessera.cli("show", "svc-gone"))


# 8. Throttling

def test_wrong_secrets_throttle_that_client_not_the_others(tessera):
    a = tessera.create("svc-victim", "--scopes", "a")
    b = tessera.create("svc-bystander", "--scopes", "a")
    c = tessera.create("svc-elsewhere", "--scopes", "a")
    assert tessera.basic("svc-bystander", b["client_secret"]).status_code == 200  # verified before the flood

    throttled_since = None
    for attempt in range(10):
        started = time.monotonic()
        response = tessera.basic("svc-victim", "wrong-" + str(attempt))
        took = time.monotonic() - started
        assert_error(response, 401, "invalid_client")
        if "Retry-After" in response.headers:
            assert int(response.headers["Retry-After"]) >= 1
            throttled_since = throttled_since if throttled_since is not None else attempt
        if throttled_since is not None:
            assert took < 1.0, f"a throttled refusal took {took:.2f} s"
        bystander = tessera.basic("svc-bystander", b["client_secret"])
        assert bystander.status_code == 200, f"the bystander was refused after {attempt + 1} wrong secrets for another client"
    assert throttled_since is not None, "10 wrong secrets in a row never drew a Retry-After"

    started = time.monotonic()
    right = tessera.basic("svc-victim", a["client_secret"])
    took = time.monotonic() - started
    if right.status_code != 200:
        assert_error(right, 401, "invalid_client")
        assert took < 1.0

    # A client never seen before, from another address, still gets its first token (a fresh Argon2 check).
    elsewhere = requests.Session()
    elsewhere.mount("http://", SourceAddress("127.0.0.2"))
    response = tessera.basic("svc-elsewhere", c["client_secret"], session=elsewhere)
    assert response.status_code == 200, response.text
