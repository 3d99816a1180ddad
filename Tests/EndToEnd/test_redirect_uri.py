"""Redirect-URI tricks at the authorization endpoint: every one is refused with an error page, never a redirect.

RFC 6749 §4.1.2.1: with a missing, invalid or mismatching redirection URI the server "MUST NOT
automatically redirect the user-agent to the invalid redirection URI". RFC 9700 §4.1.3 asks for exact
string matching; RFC 8252 §7.3 allows any port only for loopback IP redirect URIs of public clients.
"""
import base64
import hashlib
import json
import os
import secrets
import subprocess

import pytest
import requests

from conftest import ROOT, tessera_bin

REGISTERED = "https://app.example.com/callback"
LOOPBACK = "http://127.0.0.1/cb"


def cli(database, keys_dir, *args):
    environment = dict(os.environ)
    environment.update({"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir})
    result = subprocess.run([tessera_bin(), *args, "--json"], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def server(start_server, database, keys_dir):
    running = start_server(args=["--migrate"], database=database)
    cli(database, keys_dir, "clients", "create", "--id", "web", "--type", "confidential", "--auth-method", "client_secret_basic",
        "--grant-types", "authorization_code", "--redirect-uris", f"{REGISTERED} {LOOPBACK}", "--scopes", "openid profile")
    cli(database, keys_dir, "clients", "create", "--id", "native", "--type", "public", "--grant-types", "authorization_code",
        "--redirect-uris", LOOPBACK, "--scopes", "openid")
    return running


def authorize(server, client_id, redirect_uri):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return requests.get(server.base + "/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"}, allow_redirects=False, timeout=30)


TRICKS = [
    "https://app.example.com/callback/",              # suffix
    "https://app.example.com/callbac",                # prefix
    "https://app.example.com/callback/../callback",   # extra path
    "https://app.example.com/callback/extra",         # extra path
    "https://app.example.com:8443/callback",          # other port
    "https://app.example.com:443/callback",           # explicit default port is another string
    "https://evil.example@app.example.com/callback",  # userinfo
    "https://app.example.com@evil.example/callback",  # userinfo the other way round
    "https://app.example.com/callback#frag",          # fragment
    "https://app.example.com/%63allback",             # percent-encoded character
    "https://APP.example.com/callback",               # host case
    "HTTPS://app.example.com/callback",               # scheme case
    "http://app.example.com/callback",                # scheme downgrade
    "https://app.example.com.evil.example/callback",  # host suffix
    "https://app.example.com/callback?x=1",           # added query
    "https://app.example.com/callback ",              # trailing space
    "http://127.0.0.1:8080/cb",                       # loopback port: confidential client, so not allowed
    "javascript:alert(1)",
]


def test_redirect_uri_tricks_get_an_error_page_and_no_redirect(server):
    # One server for every trick (starting one per case would triple the suite's time).
    wrong = []
    for redirect_uri in TRICKS:
        response = authorize(server, "web", redirect_uri)
        if (response.status_code != 400 or "Location" in response.headers
                or not response.headers["Content-Type"].startswith("text/html") or "redirect_uri" not in response.text):
            wrong.append((redirect_uri, response.status_code, response.headers.get("Location")))
    assert wrong == []


def test_unknown_client_and_missing_redirect_uri_get_an_error_page(server):
    for client_id, redirect_uri in [("nobody", REGISTERED), ("web", None)]:
        params = {"response_type": "code", "client_id": client_id, "state": "s"}
        if redirect_uri:
            params["redirect_uri"] = redirect_uri
        response = requests.get(server.base + "/authorize", params=params, allow_redirects=False, timeout=30)
        assert response.status_code == 400
        assert "Location" not in response.headers


def test_exact_uri_is_accepted(server):
    response = authorize(server, "web", REGISTERED)
    assert response.status_code == 200  # the login page
    assert 'name="username"' in response.text


def test_public_loopback_client_may_use_any_port_and_nothing_more(server):
    for redirect_uri in ["http://127.0.0.1:51234/cb", "http://127.0.0.1/cb"]:
        assert authorize(server, "native", redirect_uri).status_code == 200, redirect_uri
    for redirect_uri in ["http://localhost:51234/cb", "http://127.0.0.1:51234/cb/x", "http://127.0.0.1.evil.example:51234/cb",
                         "http://127.0.0.1:99999/cb"]:
        response = authorize(server, "native", redirect_uri)
        assert response.status_code == 400, redirect_uri
        assert "Location" not in response.headers
