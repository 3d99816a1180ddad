"""The browser login (authorization code with PKCE, OpenID Connect), seen by clients we did not write.

A requests.Session plays the browser: it keeps the cookies, and html.parser reads the forms it is
shown. authlib is the relying party that redeems codes; PyJWT and jwcrypto check ID tokens against
the served JWKS. Users and clients are registered with the `tessera` CLI, as an operator would.

Most tests share one server (module scope) and register their own users and clients, so that no
test sees another's sessions, consents or failed sign-ins; tests that need other settings start
their own server.
"""
import base64
import email.utils
import hashlib
import itertools
import json
import os
import secrets
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid
from html.parser import HTMLParser

import jwt
import pytest
import requests
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from conftest import ROOT, free_port, psql, tessera_bin, wait_until_serving, SourceAddress

PASSWORD = "correct horse battery staple"
# A state that needs every kind of encoding: space, &, =, /, a non-ASCII letter, and what looks
# like an escape and a plus. It must come back byte for byte (RFC 6749 §4.1.2).
STATE = "a b&c=d/é%20+"
CALLBACK = "http://127.0.0.1:8765/cb"
SIGNED_OUT = "http://127.0.0.1:8765/signed-out"
INVALID_CREDENTIALS = "Invalid username or password."
LOCKED_OUT = "Too many failed sign-in attempts"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_names = itertools.count(1)
_addresses = itertools.count(2)


def unique(prefix):
    """A fresh user or client name, so that tests on one server never share state."""
    return f"{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair():
    """A code_verifier (RFC 7636 §4.1: 43 to 128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode("ascii")).digest())


# The server and its CLI

class Provider:
    """One running `tessera serve` and the CLI pointed at its database."""

    def __init__(self, base, env, issuer=None, admin=None):
        self.base = base
        # The management listener (/metrics), when known.
        self.admin = admin
        self.issuer = issuer or base
        self.env = env
        self.authorize_url = base + "/authorize"
        self.token_url = base + "/token"
        self.userinfo_url = base + "/userinfo"
        self.logout_url = base + "/logout"
        self.jwks_url = base + "/.well-known/jwks.json"

    def cli(self, *args, input=None):
        environment = dict(os.environ)
        environment.update(self.env)
        return subprocess.run([tessera_bin(), *args], cwd=ROOT, env=environment,
                              stdin=None if input is not None else subprocess.DEVNULL, input=input,
                              capture_output=True, text=True, timeout=60)

    def cli_json(self, *args, input=None):
        result = self.cli(*args, "--json", input=input)
        assert result.returncode == 0, f"tessera {' '.join(args)}: {result.stderr}"
        return json.loads(result.stdout)

    def user(self, *args, username=None, password=PASSWORD):
        """Creates a user as in the README; returns its JSON document plus the password."""
        username = username or unique("user")
        if not args:
            args = ("--email", f"{username}@example.com", "--email-verified", "--name", "Alice Liddell")
        created = self.cli_json("users", "create", "--username", username, "--password-stdin", *args,
                                input=password + "\n")
        created["password"] = password
        return created

    def client(self, *args, client_id=None, redirect_uris=(CALLBACK,), scopes="openid profile email",
               confidential=False):
        """Registers an authorization-code client (public unless `confidential`); returns its JSON."""
        kind = (["--type", "confidential", "--auth-method", "client_secret_basic"] if confidential
                else ["--type", "public", "--auth-method", "none"])
        return self.cli_json("clients", "create", "--id", client_id or unique("web"), *kind,
                             "--grant-types", "authorization_code", "--redirect-uris", " ".join(redirect_uris),
                             "--scopes", scopes, *args)

    def first_party(self, *args, **kwargs):
        return self.client("--skip-consent", "true", *args, **kwargs)


def launch(folder, env=None):
    """Starts a server on a fresh database; a generator that stops it and drops the database."""
    database = "e2e_" + uuid.uuid4().hex[:12]
    psql(f'CREATE DATABASE "{database}"')
    keys = folder / "keys"
    subprocess.run([tessera_bin(), "keys", "init", "--keys-dir", str(keys)], check=True, capture_output=True)
    port = free_port()
    settings = {"PGDATABASE": database, "TESSERA_KEYS_DIR": str(keys)}
    environment = dict(os.environ)
    environment.update(settings)
    for limit in ("TOKEN", "INTROSPECTION", "REVOCATION", "TOKEN_FAILURES", "BROWSER"):
        environment[f"TESSERA_RATE_LIMIT_{limit}"] = "0"
    environment["TESSERA_ADMIN_LISTEN"] = f"127.0.0.1:{free_port()}"
    environment.update(env or {})
    # A long-lived server writes to a file: an unread pipe would fill up and stall it.
    log = open(folder / "tessera.log", "w")
    process = subprocess.Popen([tessera_bin(), "serve", "--listen", f"127.0.0.1:{port}", "--migrate"],
                               cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, process)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{(folder / 'tessera.log').read_text()[-3000:]}") from None
        yield Provider(base, settings, issuer=(env or {}).get("TESSERA_ISSUER"), admin="http://" + environment["TESSERA_ADMIN_LISTEN"])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()
        psql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    """The shared server; each test registers the users and clients it needs."""
    yield from launch(tmp_path_factory.mktemp("op"))


@pytest.fixture
def own_op(tmp_path):
    """Starts a server of the test's own, with extra environment."""
    running = []

    def start(**env):
        generator = launch(tmp_path / f"op{len(running)}", env)
        running.append(generator)
        return next(generator)

    yield start
    for generator in running:
        generator.close()


# Reading responses

class Form:
    def __init__(self, attrs):
        self.method = (attrs.get("method") or "get").lower()
        self.action = attrs.get("action")
        self.inputs = []
        self.buttons = []

    def hidden(self):
        return {i["name"]: i.get("value", "") for i in self.inputs if (i.get("type") or "").lower() == "hidden" and i.get("name")}

    def field(self, name):
        found = [i for i in self.inputs if i.get("name") == name]
        assert len(found) == 1, f"form {self.action}: {len(found)} inputs named {name!r}: {self.inputs}"
        return found[0]


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self.current = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.current = Form(attrs)
            self.forms.append(self.current)
        elif self.current is not None and tag == "input":
            self.current.inputs.append(attrs)
        elif self.current is not None and tag == "button":
            self.current.buttons.append(attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None


class Page:
    """An HTML page the server showed, with its forms."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.text = response.text
        parser = FormParser()
        parser.feed(response.text)
        self.forms = parser.forms

    def form(self, action):
        found = [f for f in self.forms if f.action == action]
        assert len(found) == 1, (f"expected one form with action {action!r} on this {self.status} page, "
                                 f"found {[f.action for f in self.forms]}: {self.text[:800]}")
        assert found[0].method == "post", f"the {action} form must post"
        return found[0]

    def has_form(self, action):
        return any(f.action == action for f in self.forms)


def assert_html_page(response, status):
    """A page of ours: its status, no redirect, and the headers every page carries."""
    assert response.status_code == status, f"expected {status}, got {response.status_code} " \
                                           f"(Location {response.headers.get('Location')}): {response.text[:800]}"
    assert "Location" not in response.headers, response.headers["Location"]
    headers = response.headers
    assert headers.get("Content-Type", "").startswith("text/html"), headers.get("Content-Type")
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, f"Content-Security-Policy: {csp!r}"
    assert "'unsafe-inline'" not in csp, f"Content-Security-Policy: {csp!r}"
    assert headers.get("X-Frame-Options", "").upper() == "DENY", headers.get("X-Frame-Options")
    assert headers.get("Referrer-Policy", "").lower() == "no-referrer", headers.get("Referrer-Policy")
    assert headers.get("X-Content-Type-Options", "").lower() == "nosniff", headers.get("X-Content-Type-Options")
    assert "no-store" in headers.get("Cache-Control", ""), headers.get("Cache-Control")
    return Page(response)


def assert_login_page(response, status=200):
    page = assert_html_page(response, status)
    form = page.form("/login")
    hidden = form.hidden()
    assert hidden.get("interaction") and hidden.get("csrf_token"), f"hidden inputs: {hidden}"
    form.field("username")
    assert (form.field("password").get("type") or "").lower() == "password"
    assert any(b.get("id") == "sign-in" for b in form.buttons), f"no button#sign-in: {form.buttons}"
    return page


def redirected_to(response, target):
    """The query of a redirect to `target` (scheme, host, port and path compared); each name once."""
    assert response.status_code in (302, 303), \
        f"expected a redirect to {target}, got {response.status_code}: {response.text[:800]}"
    location = response.headers["Location"]
    got, wanted = urllib.parse.urlsplit(location), urllib.parse.urlsplit(target)
    assert (got.scheme, got.netloc, got.path) == (wanted.scheme, wanted.netloc, wanted.path), location
    assert not got.fragment, f"the response mode is query: {location}"
    pairs = urllib.parse.parse_qsl(got.query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a parameter appears twice: {location}"
    return dict(pairs)


def assert_error_redirect(response, op, target, error, state=STATE):
    """RFC 6749 §4.1.2.1 with RFC 9207: error, error_description, the exact state, and iss."""
    query = redirected_to(response, target)
    assert query.get("error") == error, query
    assert query.get("error_description"), f"no error_description: {query}"
    if state is None:
        assert "state" not in query, f"state came back as {query.get('state')!r}"
    else:
        assert query.get("state") == state, f"state came back as {query.get('state')!r}"
    assert query.get("iss") == op.issuer, query
    assert "code" not in query
    return query


def set_cookies(response):
    """Every Set-Cookie of one response: name → (value, {attribute in lower case: value})."""
    found = {}
    for header in response.raw.headers.getlist("Set-Cookie"):
        first, *rest = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        attributes = {}
        for part in rest:
            key, _, attribute = part.partition("=")
            attributes[key.strip().lower()] = attribute.strip()
        found[name.strip()] = (value, attributes)
    return found


def assert_cookie(response, name, secure=False):
    cookies = set_cookies(response)
    assert name in cookies, f"no {name} cookie set; Set-Cookie: {response.raw.headers.getlist('Set-Cookie')}"
    value, attributes = cookies[name]
    assert value, f"{name} is empty"
    assert "httponly" in attributes, f"{name} without HttpOnly: {attributes}"
    assert attributes.get("samesite", "").lower() == "lax", f"{name} SameSite: {attributes}"
    assert attributes.get("path") == "/", f"{name} Path: {attributes}"
    assert "domain" not in attributes, f"{name} Domain: {attributes}"
    assert ("secure" in attributes) == secure, f"{name} Secure should be {secure}: {attributes}"
    return value


def is_cleared(value, attributes):
    if attributes.get("max-age") in ("0", "-1"):
        return True
    if "expires" in attributes:
        try:
            return email.utils.parsedate_to_datetime(attributes["expires"]).timestamp() < time.time()
        except (TypeError, ValueError):
            return False
    return value == ""


# The browser and the relying party

class Grant:
    """One authorization request's secrets and the code it brought back."""

    def __init__(self, client, params, verifier, query):
        self.client = client
        self.params = params
        self.verifier = verifier
        self.query = query
        self.code = query.get("code")
        self.redirect_uri = params["redirect_uri"]
        self.nonce = params.get("nonce")


def request_params(client, redirect_uri=None, scope="openid profile email", **extra):
    """A valid authorization request and its code_verifier; an `extra` of None removes a parameter."""
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client["client_id"],
              "redirect_uri": redirect_uri or client["redirect_uris"][0], "scope": scope, "state": STATE,
              "code_challenge": challenge, "code_challenge_method": "S256", "nonce": secrets.token_urlsafe(12)}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}, verifier


class Browser:
    """A requests.Session acting as the user's browser; it never follows a redirect by itself.

    Each browser connects from its own loopback address (127.0.x.y), as different people would:
    the server also counts failed sign-ins per address, and tests sharing a server must not add up.
    """

    def __init__(self, op):
        self.op = op
        self.http = requests.Session()
        number = next(_addresses)
        self.http.mount("http://", SourceAddress(f"127.0.{number // 250}.{number % 250 + 2}"))

    def authorize(self, params, method="GET"):
        if method == "GET":
            return self.http.get(self.op.authorize_url, params=params, allow_redirects=False, timeout=30)
        return self.http.post(self.op.authorize_url, data=params, allow_redirects=False, timeout=30)

    def login_page(self, client, **extra):
        params, _ = request_params(client, **extra)
        return assert_login_page(self.authorize(params))

    def login(self, page, username, password, **changes):
        """Posts the page's login form; `changes` override fields (None leaves one out)."""
        data = page.form("/login").hidden()
        data.update(username=username, password=password)
        data.update(changes)
        data = {k: v for k, v in data.items() if v is not None}
        return self.http.post(self.op.base + "/login", data=data, allow_redirects=False, timeout=30)

    def own_page(self, response):
        """Follows a redirect to one of the server's own pages (such as /consent) and returns it."""
        if response.status_code in (302, 303):
            location = urllib.parse.urljoin(self.op.base + "/", response.headers["Location"])
            assert location.startswith(self.op.base + "/"), f"a redirect away from the server: {location}"
            response = self.http.get(location, allow_redirects=False, timeout=30)
        return response

    def consent(self, page, decision):
        form = page.form("/consent")
        data = form.hidden()
        data["decision"] = decision
        return self.http.post(self.op.base + "/consent", data=data, allow_redirects=False, timeout=30)

    def sign_in(self, client, user, **extra):
        """One whole authorization: login and consent when asked; returns the Grant."""
        params, verifier = request_params(client, **extra)
        response = self.authorize(params)
        if response.status_code == 200:
            response = self.login(assert_login_page(response), user["username"], user["password"])
        if response.status_code in (302, 303) and not response.headers["Location"].startswith(params["redirect_uri"]):
            page = assert_html_page(self.own_page(response), 200)
            response = self.consent(page, "allow")
        query = redirected_to(response, params["redirect_uri"])
        assert query.get("code"), f"no code: {query}"
        assert query.get("state") == params["state"] and query.get("iss") == self.op.issuer, query
        return Grant(client, params, verifier, query)

    def cookie(self, name):
        return self.http.cookies.get(name)


def relying_party(client, grant=None, scope=None):
    """authlib's OAuth2Session for the client, S256 PKCE, authenticating as the client registered."""
    return OAuth2Session(client["client_id"], client.get("client_secret"),
                         token_endpoint_auth_method=client["token_endpoint_auth_method"],
                         redirect_uri=grant.redirect_uri if grant else client["redirect_uris"][0],
                         scope=scope, code_challenge_method="S256")


def redeem_with_authlib(op, grant):
    return relying_party(grant.client, grant).fetch_token(op.token_url, code=grant.code, code_verifier=grant.verifier)


def redeem(op, grant, session=None, **changes):
    """The token request by hand; `changes` override parameters (None leaves one out)."""
    data = {"grant_type": "authorization_code", "code": grant.code, "redirect_uri": grant.redirect_uri,
            "code_verifier": grant.verifier}
    auth = None
    if grant.client["token_endpoint_auth_method"] == "none":
        data["client_id"] = grant.client["client_id"]
    else:
        auth = (grant.client["client_id"], grant.client["client_secret"])
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    return (session or requests).post(op.token_url, data=data, auth=auth, timeout=30)


def assert_no_store(response):
    for name, value in NO_STORE.items():
        assert response.headers.get(name) == value, f"{name} on {response.status_code}: {dict(response.headers)}"


def assert_token_error(response, error, status=400):
    assert response.status_code == status, f"expected {status} {error}, got {response.status_code}: {response.text[:500]}"
    assert response.headers.get("Content-Type", "").startswith("application/json")
    body = response.json()
    assert body.get("error") == error, body
    assert_no_store(response)
    return body


def at_hash(access_token):
    """OIDC Core §3.1.3.6: base64url of the left half of SHA-256 of the token's ASCII octets."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def verify_id_token(op, id_token, client_id, access_token=None, nonce=None, alg="RS256"):
    """Checks an ID token with PyJWT (PyJWKClient) and again with jwcrypto; returns its claims."""
    header = jwt.get_unverified_header(id_token)
    assert header.get("alg") == alg, header
    jwks = requests.get(op.jwks_url, timeout=10).json()
    assert header.get("kid") in {k.get("kid") for k in jwks["keys"]}, f"kid {header.get('kid')} not in the JWKS"
    signing_key = jwt.PyJWKClient(op.jwks_url).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(id_token, signing_key.key, algorithms=[alg], audience=client_id, issuer=op.issuer,
                        options={"require": ["iss", "sub", "aud", "exp", "iat"]})
    checked = jwcrypto_jwt.JWT(jwt=id_token, key=jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks)), algs=[alg])
    assert json.loads(checked.claims) == claims, "jwcrypto and PyJWT read different claims"

    assert claims["aud"] in (client_id, [client_id]), claims["aud"]
    assert claims.get("azp") == client_id, claims
    now = time.time()
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - now) < 60, claims
    assert claims["exp"] > claims["iat"], claims
    assert isinstance(claims.get("auth_time"), int), f"auth_time must be an integer: {claims}"
    assert claims["auth_time"] <= claims["iat"], claims
    if nonce is None:
        assert "nonce" not in claims, claims
    else:
        assert claims.get("nonce") == nonce, claims
    if access_token is not None:
        assert claims.get("at_hash") == at_hash(access_token), claims
    assert isinstance(claims.get("sid"), str) and claims["sid"], claims
    return claims


def userinfo(op, access_token, method="GET"):
    return requests.request(method, op.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


# 1. Discovery

def test_discovery_advertises_the_browser_login(op):
    document = requests.get(op.base + "/.well-known/openid-configuration", timeout=10).json()
    assert document["issuer"] == op.issuer
    assert document.get("authorization_endpoint") == op.issuer + "/authorize"
    assert document.get("userinfo_endpoint") == op.issuer + "/userinfo"
    assert document.get("end_session_endpoint") == op.issuer + "/logout"
    assert document.get("response_types_supported") == ["code"]
    assert document.get("code_challenge_methods_supported") == ["S256"]
    assert {"openid", "profile", "email"} <= set(document.get("scopes_supported", []))
    assert {"sub", "name", "preferred_username", "email", "email_verified"} <= set(document.get("claims_supported", []))
    assert document.get("subject_types_supported") == ["public"]
    assert set(document.get("id_token_signing_alg_values_supported", [])) == {"RS256", "ES256"}
    assert document.get("authorization_response_iss_parameter_supported") is True
    assert "authorization_code" in document.get("grant_types_supported", [])


# 2. /authorize: what is refused without a redirect

def test_bad_client_or_redirect_uri_gets_an_error_page_never_a_redirect(op):
    client = op.client()
    disabled = op.client()
    assert op.cli("clients", "disable", disabled["client_id"]).returncode == 0
    confidential = op.client(confidential=True, redirect_uris=("http://127.0.0.1:8765/cb",))
    named_host = op.client(redirect_uris=("http://localhost:8765/cb",))
    valid, _ = request_params(client)

    def without(name):
        return {k: v for k, v in valid.items() if k != name}

    cases = {
        "unknown client": {**valid, "client_id": "nobody"},
        "disabled client": {**valid, "client_id": disabled["client_id"]},
        "no client_id": without("client_id"),
        "no redirect_uri": without("redirect_uri"),
        "unregistered redirect_uri": {**valid, "redirect_uri": "https://evil.example.com/cb"},
        "another path": {**valid, "redirect_uri": "http://127.0.0.1:8765/cb/other"},
        "a trailing slash": {**valid, "redirect_uri": "http://127.0.0.1:8765/cb/"},
        "an added query": {**valid, "redirect_uri": "http://127.0.0.1:8765/cb?x=1"},
        "localhost for 127.0.0.1": {**valid, "redirect_uri": "http://localhost:8765/cb"},
        # RFC 8252 §7.3 lets any port through for public clients with loopback IP literals only.
        "another port, confidential client": {**valid, "client_id": confidential["client_id"],
                                              "redirect_uri": "http://127.0.0.1:9999/cb"},
        "another port, registered as localhost": {**valid, "client_id": named_host["client_id"],
                                                  "redirect_uri": "http://localhost:9999/cb"},
        "another port and another path": {**valid, "redirect_uri": "http://127.0.0.1:9999/elsewhere"},
        "client_id twice": list(valid.items()) + [("client_id", client["client_id"])],
        "redirect_uri twice": list(valid.items()) + [("redirect_uri", valid["redirect_uri"])],
    }
    browser = Browser(op)
    for name, params in cases.items():
        for method in ("GET", "POST"):
            response = browser.authorize(params, method)
            assert response.status_code == 400 and "Location" not in response.headers, \
                f"{name} ({method}): {response.status_code} {response.headers.get('Location')}"
            page = assert_html_page(response, 400)
            assert not page.has_form("/login"), f"{name} ({method}) showed the login form"


def test_loopback_redirect_uri_of_a_public_client_may_use_any_port(op):
    v4 = op.client(redirect_uris=("http://127.0.0.1:8765/cb",))
    v6 = op.client(redirect_uris=("http://[::1]:8765/cb",))
    browser = Browser(op)
    for client, uri in ((v4, "http://127.0.0.1:40123/cb"), (v4, "http://127.0.0.1/cb"), (v6, "http://[::1]:40123/cb")):
        params, _ = request_params(client, redirect_uri=uri)
        assert_login_page(browser.authorize(params))


# 3. /authorize: errors sent back to the client

def _repeated(name):
    return lambda params: list(params.items()) + [(name, params[name])]


REDIRECTED_ERRORS = {
    "no response_type": ({"response_type": None}, "invalid_request"),
    "response_type token": ({"response_type": "token"}, "unsupported_response_type"),
    "response_type code id_token": ({"response_type": "code id_token"}, "unsupported_response_type"),
    "no code_challenge": ({"code_challenge": None}, "invalid_request"),
    "code_challenge_method plain": ({"code_challenge_method": "plain"}, "invalid_request"),
    "no code_challenge_method": ({"code_challenge_method": None}, "invalid_request"),
    "scope not allowed": ({"scope": "openid admin"}, "invalid_scope"),
    "scope twice": (_repeated("scope"), "invalid_request"),
    "state twice": (_repeated("state"), "invalid_request"),
    "code_challenge twice": (_repeated("code_challenge"), "invalid_request"),
    "prompt none with login": ({"prompt": "none login"}, "invalid_request"),
    "prompt none with consent": ({"prompt": "consent none"}, "invalid_request"),
    "max_age not a number": ({"max_age": "soon"}, "invalid_request"),
    "max_age negative": ({"max_age": "-1"}, "invalid_request"),
    "request object": ({"request": "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}, "request_not_supported"),
    "request_uri": ({"request_uri": "https://client.example.com/request.jwt"}, "request_uri_not_supported"),
}


@pytest.fixture(scope="module")
def error_client(op):
    return op.client()


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("case", list(REDIRECTED_ERRORS))
def test_request_errors_go_back_to_the_client_with_state_and_iss(op, error_client, case, method):
    change, error = REDIRECTED_ERRORS[case]
    params, _ = request_params(error_client)
    params = change(params) if callable(change) else {k: v for k, v in {**params, **change}.items() if v is not None}
    response = Browser(op).authorize(params, method)
    # A repeated state has no one value to return: it is left out rather than echoed (RFC 6749 §4.1.2.1).
    assert_error_redirect(response, op, CALLBACK, error, state=None if case == "state twice" else STATE)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_or_disabled_client_is_named_invalid_client_on_the_error_page(op, method):
    disabled = op.client()
    assert op.cli("clients", "disable", disabled["client_id"]).returncode == 0
    for client_id in ("nobody", disabled["client_id"]):
        params, _ = request_params(disabled)
        params["client_id"] = client_id
        page = assert_html_page(Browser(op).authorize(params, method), 400)
        assert "<code>invalid_client</code>" in page.text, page.text
    params, _ = request_params(disabled)
    del params["client_id"]
    assert "<code>invalid_request</code>" in assert_html_page(Browser(op).authorize(params, method), 400).text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_nul_characters_are_a_400_invalid_request_never_a_500(op, method):
    client = op.client()
    for name in ("state", "nonce", "login_hint", "scope", "client_id", "redirect_uri"):
        params, _ = request_params(client)
        params[name] = params.get(name, "x") + "\x00"
        response = Browser(op).authorize(params, method)
        page = assert_html_page(response, 400)
        assert "<code>invalid_request</code>" in page.text, (name, page.text)
    for params in ({"client_id": "web\x00"}, {"client_id": client["client_id"], "state": "a\x00"},
                   {"post_logout_redirect_uri": "http://127.0.0.1:8765/\x00"}):
        response = requests.request(method, op.logout_url, **({"params": params} if method == "GET" else {"data": params}),
                                    allow_redirects=False, timeout=10)
        assert response.status_code == 400 and "<code>invalid_request</code>" in response.text, (params, response.status_code)


# 4. The login page and POST /login

def test_login_page_binds_the_browser_and_honours_login_hint(op):
    client = op.client()
    for method in ("GET", "POST"):
        params, _ = request_params(client, login_hint="alice.hint")
        response = Browser(op).authorize(params, method)
        page = assert_login_page(response)
        assert page.form("/login").field("username").get("value") == "alice.hint"
        assert_cookie(response, "tessera_browser")
        assert "tessera_session" not in set_cookies(response)


@pytest.mark.parametrize("who", ["wrong password", "unknown user", "disabled user"])
def test_failed_sign_in_shows_the_form_again_with_one_message(op, who):
    client = op.first_party()
    user = op.user()
    if who == "disabled user":
        assert op.cli("users", "disable", user["username"]).returncode == 0
    username = "nobody-" + uuid.uuid4().hex[:8] if who == "unknown user" else user["username"]
    password = "not the password" if who == "wrong password" else user["password"]
    browser = Browser(op)
    response = browser.login(browser.login_page(client), username, password)
    page = assert_login_page(response)
    assert INVALID_CREDENTIALS in page.text
    assert "tessera_session" not in set_cookies(response)
    assert browser.cookie("tessera_session") is None
    if who == "wrong password":
        # The form shown again works.
        params = redirected_to(browser.login(page, user["username"], user["password"]), CALLBACK)
        assert params.get("code"), params


def test_unknown_and_known_usernames_take_about_as_long(op):
    client = op.first_party()
    users = [op.user() for _ in range(5)]  # one failure each: far from any lockout
    browser = Browser(op)

    def attempt(username):
        page = browser.login_page(client)
        started = time.perf_counter()
        response = browser.login(page, username, "not the password at all")
        took = time.perf_counter() - started
        assert INVALID_CREDENTIALS in assert_login_page(response).text
        return took

    attempt("warm-up-" + uuid.uuid4().hex[:8])
    known, unknown = [], []
    for user in users:
        known.append(attempt(user["username"]))
        unknown.append(attempt("nobody-" + uuid.uuid4().hex[:8]))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 <= ratio <= 2.0, (f"unknown users take {ratio:.2f}× as long as known ones "
                                 f"(medians {statistics.median(unknown) * 1000:.1f} ms and "
                                 f"{statistics.median(known) * 1000:.1f} ms): the username can be probed")


def test_five_failures_lock_the_account_for_a_while(op):
    client = op.first_party()
    user, bystander = op.user(), op.user()
    browser = Browser(op)
    for attempt in range(5):
        response = browser.login(browser.login_page(client), user["username"], f"wrong password {attempt}")
        assert INVALID_CREDENTIALS in assert_login_page(response).text, f"failure {attempt + 1}"
    locked = browser.login(browser.login_page(client), user["username"], user["password"])
    assert locked.status_code == 429, (f"after 5 failures the next attempt (with the right password) got "
                                       f"{locked.status_code} {locked.headers.get('Location', '')}, not 429")
    page = assert_html_page(locked, 429)
    assert LOCKED_OUT in page.text
    assert "tessera_session" not in set_cookies(locked)
    retry_after = int(locked.headers["Retry-After"])
    assert 1 <= retry_after <= 2, f"the first backoff is 1 s; Retry-After: {retry_after}"
    # Another account is not held up.
    other = Browser(op)
    assert redirected_to(other.login(other.login_page(client), bystander["username"], bystander["password"]), CALLBACK)["code"]
    time.sleep(retry_after + 0.2)
    after = browser.login(browser.login_page(client), user["username"], user["password"])
    assert redirected_to(after, CALLBACK).get("code"), "the right password works once the backoff has passed"


def test_guessing_from_many_addresses_never_locks_out_a_browser_that_signed_in_before(op):
    client = op.first_party()
    user, other_user = op.user(), op.user()
    own = Browser(op)
    assert redirected_to(own.login(own.login_page(client), user["username"], user["password"]), CALLBACK)["code"]
    assert own.cookie("tessera_device"), "a successful sign-in marks the browser as known for the account"
    other = Browser(op)
    assert redirected_to(other.login(other.login_page(client), other_user["username"], other_user["password"]), CALLBACK)["code"]

    def guess(attempt):
        guesser = Browser(op)
        response = guesser.login(guesser.login_page(client), user["username"], f"guess {attempt}")
        assert INVALID_CREDENTIALS in assert_login_page(response).text, f"guess {attempt + 1}"

    # Wrong passwords for the account, each from another address (a distributed guess): the 10th
    # starts a backoff of 1 s for unknown browsers, doubling with each further failure after it.
    for attempt in range(10):
        guess(attempt)
    for attempt, backoff in ((10, 1), (11, 2)):
        time.sleep(backoff + 0.1)
        guess(attempt)
    # A browser the account never used is held back (4 s now), even with the right password ...
    stranger = Browser(op)
    held = stranger.login(stranger.login_page(client), user["username"], user["password"])
    assert held.status_code == 429 and LOCKED_OUT in assert_html_page(held, 429).text, held.status_code
    # ... and so is one with another account's known-device cookie, or a forged one ...
    for value in (other.cookie("tessera_device"), "AAAA.BBBB", own.cookie("tessera_device")[:-2] + "xx"):
        forger = Browser(op)
        forger.http.cookies.set("tessera_device", value)
        refused = forger.login(forger.login_page(client), user["username"], user["password"])
        assert refused.status_code == 429, (value, refused.status_code)
    # ... but the person's own browser signs in at once: no one can lock them out.
    welcome = own.login(own.login_page(client, prompt="login"), user["username"], user["password"])
    assert redirected_to(welcome, CALLBACK)["code"]


def test_wrong_secrets_for_a_client_from_elsewhere_never_lock_out_its_owner(op):
    service = op.cli_json("clients", "create", "--grant-types", "client_credentials", "--audiences", "https://api.example.com")
    attacker = requests.Session()
    attacker.mount("http://", SourceAddress("127.0.3.1"))
    for attempt in range(100):
        response = attacker.post(op.token_url, auth=(service["client_id"], f"guess {attempt}"),
                                 data={"grant_type": "client_credentials"}, timeout=10)
        assert response.status_code == 401, response.text
    assert "Retry-After" in response.headers, "the attacker's address is throttled"
    owner = requests.Session()
    owner.mount("http://", SourceAddress("127.0.3.2"))
    # The owner's secret was never verified before (no cache to lean on): it must still work.
    first = owner.post(op.token_url, auth=(service["client_id"], service["client_secret"]),
                       data={"grant_type": "client_credentials"}, timeout=10)
    assert first.status_code == 200, first.text


CROSS_SITE = {
    "another Origin": {"Origin": "https://attacker.test"},
    "another Origin, same host other port": {"Origin": "http://127.0.0.1:1"},
    "Origin null, cross-site fetch": {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    "same-site fetch": {"Sec-Fetch-Site": "same-site"},
    "cross-site Referer": {"Referer": "https://attacker.test/page"},
}


@pytest.mark.parametrize("case", list(CROSS_SITE))
def test_cross_site_login_and_consent_posts_are_refused_despite_a_valid_csrf_token(op, case):
    headers = CROSS_SITE[case]
    client, user = op.client(), op.user()
    browser = Browser(op)
    page = browser.login_page(client)
    data = {**page.form("/login").hidden(), "username": user["username"], "password": user["password"]}
    refused = browser.http.post(op.base + "/login", data=data, headers=headers, allow_redirects=False, timeout=30)
    assert_html_page(refused, 403)
    assert "tessera_session" not in set_cookies(refused)
    # The same form from our own page (what browsers send for it: Origin null, same-origin fetch) goes through.
    own = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    consent_page = assert_html_page(browser.own_page(browser.http.post(op.base + "/login", data=data, headers=own,
                                                                        allow_redirects=False, timeout=30)), 200)
    consent = {**consent_page.form("/consent").hidden(), "decision": "allow"}
    refused = browser.http.post(op.base + "/consent", data=consent, headers=headers, allow_redirects=False, timeout=30)
    assert_html_page(refused, 403)
    allowed = browser.http.post(op.base + "/consent", data=consent, headers={"Origin": op.base}, allow_redirects=False, timeout=30)
    assert redirected_to(allowed, CALLBACK)["code"]


@pytest.mark.parametrize("tamper", ["no csrf_token", "wrong csrf_token", "no browser cookie",
                                    "another browser's cookie", "unknown interaction"])
def test_login_post_must_come_from_the_browser_that_was_shown_the_form(op, tamper):
    client = op.first_party()
    user = op.user()
    browser = Browser(op)
    page = browser.login_page(client)
    form = page.form("/login").hidden()
    data = {**form, "username": user["username"], "password": user["password"]}
    if tamper == "no csrf_token":
        response = browser.login(page, user["username"], user["password"], csrf_token=None)
    elif tamper == "wrong csrf_token":
        response = browser.login(page, user["username"], user["password"], csrf_token=b64url(secrets.token_bytes(32)))
    elif tamper == "unknown interaction":
        response = browser.login(page, user["username"], user["password"], interaction=b64url(secrets.token_bytes(32)))
    elif tamper == "no browser cookie":
        response = requests.post(op.base + "/login", data=data, allow_redirects=False, timeout=30)
    else:
        stranger = Browser(op)
        stranger.login_page(client)  # has a tessera_browser cookie of its own
        assert stranger.cookie("tessera_browser") and stranger.cookie("tessera_browser") != browser.cookie("tessera_browser")
        response = stranger.http.post(op.base + "/login", data=data, allow_redirects=False, timeout=30)
    assert_html_page(response, 400)
    assert "tessera_session" not in set_cookies(response), f"{tamper}: a session was set"


def test_successful_sign_in_sets_the_session_cookie_and_asks_for_consent(op):
    client = op.client()
    user = op.user()
    browser = Browser(op)
    response = browser.login(browser.login_page(client), user["username"], user["password"])
    assert response.status_code == 303, f"{response.status_code}: {response.text[:500]}"
    location = urllib.parse.urlsplit(urllib.parse.urljoin(op.base + "/", response.headers["Location"]))
    assert location.path == "/consent", response.headers["Location"]
    assert urllib.parse.parse_qs(location.query).get("interaction"), response.headers["Location"]
    assert_cookie(response, "tessera_session")


def test_secure_issuer_uses_host_prefixed_secure_cookies(own_op):
    op = own_op(TESSERA_ISSUER="https://auth.example.test")
    client = op.first_party()
    user = op.user()
    params, _ = request_params(client)
    shown = requests.get(op.authorize_url, params=params, allow_redirects=False, timeout=30)
    page = assert_login_page(shown)
    binding = assert_cookie(shown, "__Host-tessera_browser", secure=True)
    assert "tessera_browser" not in set_cookies(shown)
    # requests will not send Secure cookies over http: the Cookie header is written by hand.
    data = {**page.form("/login").hidden(), "username": user["username"], "password": user["password"]}
    response = requests.post(op.base + "/login", data=data, headers={"Cookie": f"__Host-tessera_browser={binding}"},
                             allow_redirects=False, timeout=30)
    assert response.status_code == 303, f"{response.status_code}: {response.text[:500]}"
    query = redirected_to(response, CALLBACK)
    assert query.get("iss") == "https://auth.example.test" and query.get("code"), query
    assert_cookie(response, "__Host-tessera_session", secure=True)
    assert "tessera_session" not in set_cookies(response)


# 5. Consent

def test_consent_page_allow_is_remembered_and_prompt_consent_asks_again(op):
    client = op.client("--name", "Fabrikam Notes")
    user = op.user()
    browser = Browser(op)
    params, _ = request_params(client, scope="openid profile")
    response = browser.login(assert_login_page(browser.authorize(params)), user["username"], user["password"])
    page = assert_html_page(browser.own_page(response), 200)
    assert "Fabrikam Notes" in page.text, "the consent page names the client"
    assert "profile" in page.text.lower(), "the consent page lists the scopes"
    form = page.form("/consent")
    assert form.hidden().get("interaction") and form.hidden().get("csrf_token"), form.hidden()
    decisions = {b.get("value") for b in form.buttons if b.get("name") == "decision"}
    assert decisions == {"allow", "deny"}, form.buttons
    query = redirected_to(browser.consent(page, "allow"), CALLBACK)
    assert query.get("code") and query.get("state") == STATE and query.get("iss") == op.issuer, query

    # Remembered for this user, client and scopes.
    params, _ = request_params(client, scope="openid profile")
    assert redirected_to(browser.authorize(params), CALLBACK).get("code")
    # prompt=consent asks again.
    params, _ = request_params(client, scope="openid profile", prompt="consent")
    page = assert_html_page(browser.own_page(browser.authorize(params)), 200)
    assert redirected_to(browser.consent(page, "allow"), CALLBACK).get("code")
    # A scope not consented to yet asks again.
    params, _ = request_params(client, scope="openid profile email")
    page = assert_html_page(browser.own_page(browser.authorize(params)), 200)
    assert "email" in page.text.lower()
    page.form("/consent")


def test_consent_denied_is_access_denied(op):
    client = op.client()
    user = op.user()
    browser = Browser(op)
    response = browser.login(browser.login_page(client), user["username"], user["password"])
    page = assert_html_page(browser.own_page(response), 200)
    assert_error_redirect(browser.consent(page, "deny"), op, CALLBACK, "access_denied")


def test_consent_posted_from_another_browser_yields_no_code(op):
    client = op.client()
    user = op.user()
    browser = Browser(op)
    page = assert_html_page(browser.own_page(browser.login(browser.login_page(client), user["username"], user["password"])), 200)
    data = {**page.form("/consent").hidden(), "decision": "allow"}
    response = requests.post(op.base + "/consent", data=data, allow_redirects=False, timeout=30)
    assert 400 <= response.status_code < 500, f"{response.status_code} {response.headers.get('Location')}"


def test_first_party_client_never_shows_consent(op):
    client = op.first_party()
    user = op.user()
    browser = Browser(op)
    response = browser.login(browser.login_page(client), user["username"], user["password"])
    query = redirected_to(response, CALLBACK)
    assert query.get("code") and query.get("state") == STATE and query.get("iss") == op.issuer, query
    assert_cookie(response, "tessera_session")


# 6. Single sign-on and prompt

def test_single_sign_on_prompt_and_max_age(op):
    first_party = op.first_party()
    third_party = op.client()
    user = op.user()
    browser = Browser(op)
    browser.sign_in(first_party, user)

    params, _ = request_params(first_party)
    assert redirected_to(browser.authorize(params), CALLBACK).get("code"), "a live session needs no form"
    params, _ = request_params(first_party, prompt="none")
    assert redirected_to(browser.authorize(params), CALLBACK).get("code")
    params, _ = request_params(first_party, max_age="3600")
    assert redirected_to(browser.authorize(params), CALLBACK).get("code")
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        params, _ = request_params(first_party, **extra)
        assert_login_page(browser.authorize(params))
    params, _ = request_params(third_party, prompt="none")
    assert_error_redirect(browser.authorize(params), op, CALLBACK, "consent_required")
    params, _ = request_params(first_party, prompt="none")
    assert_error_redirect(Browser(op).authorize(params), op, CALLBACK, "login_required")


# 7. The token endpoint

@pytest.fixture
def signed_in(op):
    """A user signed in with a first-party public client; `grant()` gets a fresh code without a form."""
    client = op.first_party()
    user = op.user()
    browser = Browser(op)
    browser.sign_in(client, user)

    class SignedIn:
        pass

    state = SignedIn()
    state.client, state.user, state.browser = client, user, browser
    state.grant = lambda **extra: browser.sign_in(client, user, **extra)
    return state


def test_authlib_redeems_the_code(op, signed_in):
    grant = signed_in.grant()
    token = redeem_with_authlib(op, grant)
    assert token["token_type"].lower() == "bearer"
    assert token["access_token"] and isinstance(token["expires_in"], int) and token["expires_in"] > 0
    assert set(token["scope"].split()) == {"openid", "profile", "email"}
    assert "refresh_token" not in token
    claims = verify_id_token(op, token["id_token"], signed_in.client["client_id"], token["access_token"], grant.nonce)
    assert claims["sub"] == signed_in.user["sub"]


def test_token_response_headers(op, signed_in):
    response = redeem(op, signed_in.grant())
    assert response.status_code == 200, response.text
    assert response.headers.get("Content-Type", "").startswith("application/json")
    assert response.json()["token_type"] == "Bearer"
    assert_no_store(response)


def test_confidential_client_redeems_with_client_secret_basic(op):
    client = op.client("--skip-consent", "true", confidential=True)
    assert client.get("client_secret"), client
    user = op.user()
    grant = Browser(op).sign_in(client, user)
    # Unauthenticated: refused, and the code is not spent by someone who could not authenticate.
    anonymous = requests.post(op.token_url, data={"grant_type": "authorization_code", "code": grant.code,
                                                  "redirect_uri": grant.redirect_uri, "code_verifier": grant.verifier,
                                                  "client_id": client["client_id"]}, timeout=30)
    assert_token_error(anonymous, "invalid_client", status=401)
    token = redeem_with_authlib(op, grant)
    verify_id_token(op, token["id_token"], client["client_id"], token["access_token"], grant.nonce)


@pytest.mark.parametrize("missing", ["code", "redirect_uri", "code_verifier"])
def test_missing_token_parameters_are_invalid_request(op, signed_in, missing):
    assert_token_error(redeem(op, signed_in.grant(), **{missing: None}), "invalid_request")


def test_wrong_verifier_spends_the_code(op, signed_in):
    grant = signed_in.grant()
    assert_token_error(redeem(op, grant, code_verifier=pkce_pair()[0]), "invalid_grant")
    assert_token_error(redeem(op, grant), "invalid_grant")


def test_code_bound_to_its_redirect_uri_and_client(op):
    two_uris = op.first_party(redirect_uris=(CALLBACK, "http://127.0.0.1:8765/other"))
    other = op.first_party()
    user = op.user()
    browser = Browser(op)
    grant = browser.sign_in(two_uris, user)
    assert_token_error(redeem(op, grant, redirect_uri="http://127.0.0.1:8765/other"), "invalid_grant")
    assert_token_error(redeem(op, grant), "invalid_grant")  # the client authenticated: the code is spent
    assert_token_error(redeem(op, browser.sign_in(two_uris, user), client_id=other["client_id"]), "invalid_grant")
    assert_token_error(redeem(op, browser.sign_in(two_uris, user), code=b64url(secrets.token_bytes(32))), "invalid_grant")


def test_second_redemption_fails_and_revokes_the_first_access_token(op, signed_in):
    grant = signed_in.grant()
    first = redeem(op, grant)
    assert first.status_code == 200, first.text
    access_token = first.json()["access_token"]
    assert userinfo(op, access_token).status_code == 200
    assert_token_error(redeem(op, grant), "invalid_grant")
    revoked = userinfo(op, access_token)
    assert revoked.status_code == 401, f"the first access token still works after the replay: {revoked.status_code}"
    assert 'error="invalid_token"' in revoked.headers.get("WWW-Authenticate", "")


def test_concurrent_redemptions_exactly_one_wins(op, signed_in):
    grant = signed_in.grant()
    barrier = threading.Barrier(10)
    results = [None] * 10

    def redeem_at_once(index):
        session = requests.Session()
        barrier.wait()
        results[index] = redeem(op, grant, session=session)

    threads = [threading.Thread(target=redeem_at_once, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = [r.status_code if r is not None else None for r in results]
    assert statuses.count(200) == 1, f"statuses: {statuses}"
    for response in results:
        if response.status_code != 200:
            assert_token_error(response, "invalid_grant")


def test_expired_code_is_invalid_grant(own_op):
    op = own_op(TESSERA_CODE_TTL="2s")
    client = op.first_party()
    user = op.user()
    browser = Browser(op)
    assert redeem(op, browser.sign_in(client, user)).status_code == 200, "a code redeemed at once works"
    grant = browser.sign_in(client, user)
    time.sleep(3)
    assert_token_error(redeem(op, grant), "invalid_grant")


# 8. ID tokens

def test_id_tokens_of_one_session_share_sid_and_auth_time(op, signed_in):
    grants = [signed_in.grant(), signed_in.grant()]
    first, second = [verify_id_token(op, token["id_token"], signed_in.client["client_id"], token["access_token"], grant.nonce)
                     for grant, token in ((g, redeem_with_authlib(op, g)) for g in grants)]
    assert first["sid"] == second["sid"]
    assert first["auth_time"] == second["auth_time"]
    assert abs(first["auth_time"] - time.time()) < 120
    # Another login is another session.
    other = Browser(op).sign_in(signed_in.client, signed_in.user)
    third = verify_id_token(op, redeem_with_authlib(op, other)["id_token"], signed_in.client["client_id"], nonce=other.nonce)
    assert third["sid"] != first["sid"]


def test_id_token_without_nonce_has_none(op, signed_in):
    grant = signed_in.grant(nonce=None)
    token = redeem_with_authlib(op, grant)
    claims = verify_id_token(op, token["id_token"], signed_in.client["client_id"], token["access_token"], nonce=None)
    assert claims["sub"] == signed_in.user["sub"]


def test_es256_client_gets_es256_id_tokens(op):
    client = op.first_party("--id-token-signing-alg", "ES256")
    user = op.user()
    grant = Browser(op).sign_in(client, user)
    token = redeem_with_authlib(op, grant)
    verify_id_token(op, token["id_token"], client["client_id"], token["access_token"], grant.nonce, alg="ES256")


# 9. UserInfo

def test_userinfo_claims_follow_the_scopes(op, signed_in):
    user = signed_in.user
    token = redeem_with_authlib(op, signed_in.grant(scope="openid profile email"))
    for method in ("GET", "POST"):
        response = userinfo(op, token["access_token"], method)
        assert response.status_code == 200, f"{method}: {response.status_code} {response.text[:300]}"
        claims = response.json()
        assert claims["sub"] == user["sub"]
        assert claims.get("name") == "Alice Liddell" and claims.get("preferred_username") == user["username"], claims
        assert claims.get("email") == user["email"] and claims.get("email_verified") is True, claims
    # authlib's session sends the bearer token itself.
    session = relying_party(signed_in.client)
    session.token = token
    assert session.get(op.userinfo_url, timeout=10).json()["sub"] == user["sub"]

    only = redeem_with_authlib(op, signed_in.grant(scope="openid"))
    claims = userinfo(op, only["access_token"]).json()
    assert claims["sub"] == user["sub"]
    for absent in ("name", "preferred_username", "email", "email_verified"):
        assert absent not in claims, claims
    email_only = userinfo(op, redeem_with_authlib(op, signed_in.grant(scope="openid email"))["access_token"]).json()
    assert email_only.get("email") == user["email"] and "name" not in email_only, email_only


def test_userinfo_refuses_missing_bad_and_under_scoped_tokens(op, signed_in):
    none = requests.get(op.userinfo_url, timeout=10)
    assert none.status_code == 401
    challenge = none.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer") and "error=" not in challenge, challenge
    # RFC 6750 §3.1: without any authentication information, no error code or other error information.
    assert none.content == b"", none.content
    for garbage in ("garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", b64url(secrets.token_bytes(32))):
        bad = userinfo(op, garbage)
        assert bad.status_code == 401, garbage
        assert 'error="invalid_token"' in bad.headers.get("WWW-Authenticate", ""), bad.headers
    # Without openid: an access token but no ID token, and no userinfo.
    grant = signed_in.grant(scope="profile")
    token = redeem(op, grant).json()
    assert "id_token" not in token, "no openid, no ID token"
    refused = userinfo(op, token["access_token"])
    assert refused.status_code == 403, refused.status_code
    assert 'error="insufficient_scope"' in refused.headers.get("WWW-Authenticate", ""), refused.headers


def test_userinfo_refuses_a_token_meant_for_another_resource_server(op):
    api = "https://api.example.com"
    client = op.first_party("--audiences", f"{api} {op.issuer}/userinfo")
    user = op.user()
    for_api = redeem(op, Browser(op).sign_in(client, user, resource=api)).json()["access_token"]
    assert jwt.decode(for_api, options={"verify_signature": False})["aud"] == api
    refused = userinfo(op, for_api)
    assert refused.status_code == 401, refused.status_code
    assert 'error="invalid_token"' in refused.headers.get("WWW-Authenticate", ""), refused.headers
    for_userinfo = redeem(op, Browser(op).sign_in(client, user, resource=op.issuer + "/userinfo")).json()["access_token"]
    assert userinfo(op, for_userinfo).json()["sub"] == user["sub"]


def test_expired_access_token_is_invalid_token(op):
    client = op.first_party("--access-token-ttl", "1s")
    grant = Browser(op).sign_in(client, op.user())
    token = redeem_with_authlib(op, grant)
    assert token["expires_in"] == 1, token
    assert userinfo(op, token["access_token"]).status_code == 200
    time.sleep(2.1)
    expired = userinfo(op, token["access_token"])
    assert expired.status_code == 401, f"an expired access token got {expired.status_code}"
    assert 'error="invalid_token"' in expired.headers.get("WWW-Authenticate", ""), expired.headers


# 10. Logout

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_with_id_token_hint_returns_to_the_client_and_ends_the_session(op, method):
    client = op.first_party("--post-logout-redirect-uris", SIGNED_OUT)
    user = op.user()
    browser = Browser(op)
    id_token = redeem_with_authlib(op, browser.sign_in(client, user))["id_token"]
    params = {"id_token_hint": id_token, "post_logout_redirect_uri": SIGNED_OUT, "state": STATE}
    if method == "GET":
        response = browser.http.get(op.logout_url, params=params, allow_redirects=False, timeout=30)
    else:
        response = browser.http.post(op.logout_url, data=params, allow_redirects=False, timeout=30)
    query = redirected_to(response, SIGNED_OUT)
    assert query.get("state") == STATE, query
    cookies = set_cookies(response)
    assert "tessera_session" in cookies and is_cleared(*cookies["tessera_session"]), \
        f"the session cookie is not cleared: {response.raw.headers.getlist('Set-Cookie')}"
    params, _ = request_params(client)
    assert_login_page(browser.authorize(params))


def test_logout_to_an_unregistered_uri_is_refused(op):
    client = op.first_party("--post-logout-redirect-uris", SIGNED_OUT)
    browser = Browser(op)
    id_token = redeem_with_authlib(op, browser.sign_in(client, op.user()))["id_token"]
    response = browser.http.get(op.logout_url, params={"id_token_hint": id_token, "state": STATE,
                                                       "post_logout_redirect_uri": "https://evil.example.com/"},
                                allow_redirects=False, timeout=30)
    assert_html_page(response, 400)


def test_logout_without_hint_asks_first(op):
    client = op.first_party()
    browser = Browser(op)
    browser.sign_in(client, op.user())
    page = assert_html_page(browser.http.get(op.logout_url, allow_redirects=False, timeout=30), 200)
    form = page.form("/logout")
    assert form.hidden().get("csrf_token"), form.hidden()
    confirm = [b for b in form.buttons if b.get("name") == "confirm"]
    assert confirm and confirm[0].get("value") == "yes" and confirm[0].get("id") == "sign-out", form.buttons
    params, _ = request_params(client)
    assert redirected_to(browser.authorize(params), CALLBACK).get("code"), "only showing the page signs nobody out"
    forged = browser.http.post(op.logout_url, data={**form.hidden(), "confirm": "yes"}, headers={"Origin": "https://attacker.test"},
                               allow_redirects=False, timeout=30)
    assert_html_page(forged, 403)
    params, _ = request_params(client)
    assert redirected_to(browser.authorize(params), CALLBACK).get("code"), "a cross-site confirmation signs nobody out"
    done = browser.http.post(op.logout_url, data={**form.hidden(), "confirm": "yes"}, allow_redirects=False, timeout=30)
    assert_html_page(done, 200)
    params, _ = request_params(client)
    assert_login_page(browser.authorize(params))


def test_logout_confirmation_with_client_id_returns_to_the_client(op):
    client = op.first_party("--post-logout-redirect-uris", SIGNED_OUT)
    browser = Browser(op)
    browser.sign_in(client, op.user())
    shown = browser.http.get(op.logout_url, params={"client_id": client["client_id"], "post_logout_redirect_uri": SIGNED_OUT,
                                                    "state": STATE}, allow_redirects=False, timeout=30)
    form = assert_html_page(shown, 200).form("/logout")
    done = browser.http.post(op.logout_url, data={**form.hidden(), "confirm": "yes"}, allow_redirects=False, timeout=30)
    assert redirected_to(done, SIGNED_OUT).get("state") == STATE
    params, _ = request_params(client)
    assert_login_page(browser.authorize(params))
