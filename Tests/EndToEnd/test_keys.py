"""Signing keys from outside: JWKS and discovery documents, rotation across instances."""
import json
import os
import subprocess
import time

import pytest
import requests
from jwcrypto import jwk

from conftest import ROOT, tessera_bin


def cli(args, env):
    environment = dict(os.environ)
    environment.update(env)
    return subprocess.run([tessera_bin(), *args], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)


def jwks(base):
    return requests.get(base + "/.well-known/jwks.json", timeout=5)


def test_jwks_publishes_active_and_next_public_keys(start_server, database):
    server = start_server(args=["--migrate"], database=database)
    r = jwks(server.base)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/jwk-set+json"
    assert "max-age=" in r.headers["Cache-Control"]
    keys = r.json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "ES256", "RS256", "RS256"]
    for k in keys:
        assert k["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k), "private members must never be published"
        key = jwk.JWK(**k)
        # RFC 7638 thumbprint as kid, computed independently by jwcrypto
        assert key.thumbprint() == k["kid"]
        if k["alg"] == "RS256":
            assert k["kty"] == "RSA" and len(key.get_op_key("verify").public_numbers().n.to_bytes(512, "big").lstrip(b"\0")) * 8 >= 2048
        else:
            assert k["kty"] == "EC" and k["crv"] == "P-256"


def test_jwks_etag_and_304(start_server, database):
    server = start_server(args=["--migrate"], database=database)
    first = jwks(server.base)
    etag = first.headers["ETag"]
    again = requests.get(server.base + "/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    other = requests.get(server.base + "/.well-known/jwks.json", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_discovery_issuer_is_byte_for_byte(start_server, database, path):
    issuer = "https://auth.example.com/tenant-1"
    server = start_server(args=["--migrate", "--issuer", issuer], database=database)
    r = requests.get(server.base + path)
    assert r.status_code == 200
    document = r.json()
    assert document["issuer"] == issuer
    assert document["jwks_uri"] == issuer + "/.well-known/jwks.json"


def test_serve_without_key_encryption_key_fails_clearly(tmp_path, database):
    env = {"PGDATABASE": database, "TESSERA_KEYS_DIR": str(tmp_path / "empty")}
    result = cli(["serve", "--migrate", "--listen", "127.0.0.1:0"], env)
    assert result.returncode != 0
    assert "key-encryption key" in result.stderr and "tessera keys init" in result.stderr


def test_wrong_key_encryption_key_fails_clearly(start_server, database, tmp_path):
    server = start_server(args=["--migrate"], database=database)
    server.stop()
    other = tmp_path / "other"
    subprocess.run([tessera_bin(), "keys", "init", "--keys-dir", str(other)], check=True, capture_output=True)
    result = cli(["serve", "--listen", "127.0.0.1:0"], {"PGDATABASE": database, "TESSERA_KEYS_DIR": str(other)})
    assert result.returncode != 0
    assert "another key-encryption key" in result.stderr


def test_rotation_on_one_instance_is_served_by_another_within_5s(start_server, database, keys_dir):
    a = start_server(args=["--migrate"], database=database)
    b = start_server(database=database)
    before = {k["kid"] for k in jwks(b.base).json()["keys"]}
    env = {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir}
    rotated = cli(["keys", "rotate", "--alg", "ES256"], env)
    assert rotated.returncode != 0 and "--force" in rotated.stderr, "a next key just published must not sign yet"
    rotated = cli(["keys", "rotate", "--alg", "ES256", "--force"], env)
    assert rotated.returncode == 0, rotated.stderr
    listing = json.loads(cli(["keys", "list", "--json"], env).stdout)
    expected = {k["kid"] for k in listing}
    deadline = time.time() + 5
    for server in (a, b):
        while {k["kid"] for k in jwks(server.base).json()["keys"]} != expected:
            assert time.time() < deadline, "rotation not visible within 5 s"
            time.sleep(0.1)
    assert expected - before, "a new next key is published"
    states = {k["state"] for k in listing if k["alg"] == "ES256"}
    assert states == {"active", "next", "retired"}


def test_rotation_happens_by_itself_on_the_configured_period(start_server, database):
    env = {"TESSERA_KEY_ROTATION_PERIOD": "4s", "TESSERA_JWKS_MAX_AGE": "1s"}
    server = start_server(args=["--migrate"], database=database, env=env)
    first = {k["kid"] for k in jwks(server.base).json()["keys"]}
    deadline = time.time() + 20
    while True:
        now = {k["kid"] for k in jwks(server.base).json()["keys"]}
        if now - first:
            break
        assert time.time() < deadline, "no automatic rotation within 20 s"
        time.sleep(0.25)
    # The keys that signed before are still published (now retired), so their tokens still verify.
    assert first <= now


def test_retire_now_unpublishes_at_once(start_server, database, keys_dir):
    server = start_server(args=["--migrate"], database=database)
    env = {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir}
    listing = json.loads(cli(["keys", "list", "--json"], env).stdout)
    active = next(k["kid"] for k in listing if k["alg"] == "RS256" and k["state"] == "active")
    assert cli(["keys", "retire", active], env).returncode == 0
    listing = json.loads(cli(["keys", "list", "--json"], env).stdout)
    assert {k["kid"]: k["state"] for k in listing}[active] == "retired"
    assert any(k["alg"] == "RS256" and k["state"] == "active" for k in listing)
    assert cli(["keys", "retire", active, "--now"], env).returncode == 0
    deadline = time.time() + 5
    while active in {k["kid"] for k in jwks(server.base).json()["keys"]}:
        assert time.time() < deadline
        time.sleep(0.1)
