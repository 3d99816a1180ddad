"""Refresh-token rotation, reuse detection and RFC 7009 revocation, seen by clients we did not write.

The first tokens come from the browser login (test_authorization_code's requests-based browser);
authlib refreshes and revokes; several `tessera serve` processes share one database for the races.
"""
import json
import os
import subprocess
import threading
import time

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import ROOT, tessera_bin
from test_authorization_code import Browser, Provider, assert_no_store, assert_token_error, launch, redeem, userinfo

SCOPE = "openid offline_access profile"
# The one issuer of several instances (as behind a load balancer); plain http, so cookies work over loopback.
ISSUER = "http://tessera.test"


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    yield from launch(tmp_path_factory.mktemp("refresh"))


def refresh_client(op, *args, confidential=False):
    return op.client("--grant-types", "authorization_code refresh_token", "--skip-consent", "true", *args,
                     scopes="openid offline_access profile email", confidential=confidential)


def first_tokens(op, client, user=None, scope=SCOPE):
    """A browser login and the code exchange: the first access, ID and refresh tokens."""
    user = user or op.user()
    grant = Browser(op).sign_in(client, user, scope=scope)
    response = redeem(op, grant)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens.get("refresh_token", "").startswith("tsr_"), tokens
    return tokens, user


def refresh(op, client, refresh_token, base=None, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    auth = None
    if client["token_endpoint_auth_method"] == "none":
        data["client_id"] = client["client_id"]
    else:
        auth = (client["client_id"], client["client_secret"])
    return requests.post((base or op.base) + "/token", data=data, auth=auth, timeout=30)


def revoke(op, client, token, hint=None, base=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    auth = None
    if client["token_endpoint_auth_method"] == "none":
        data["client_id"] = client["client_id"]
    else:
        auth = (client["client_id"], client["client_secret"])
    return requests.post((base or op.base) + "/revoke", data=data, auth=auth, timeout=30)


def claims(id_token):
    return jwt.decode(id_token, options={"verify_signature": False})


# Rotation

def test_no_refresh_token_without_offline_access_or_the_grant(op):
    plain = op.first_party()
    response = redeem(op, Browser(op).sign_in(plain, op.user(), scope="openid"))
    assert "refresh_token" not in response.json()
    client = refresh_client(op)
    response = redeem(op, Browser(op).sign_in(client, op.user(), scope="openid profile"))
    assert "refresh_token" not in response.json(), "OpenID requests need offline_access for a refresh token"


def test_authlib_refreshes_and_each_refresh_rotates(op):
    client = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    session = OAuth2Session(client["client_id"], token_endpoint_auth_method="none", token=tokens)
    seen = {tokens["refresh_token"]}
    for _ in range(3):
        new = session.refresh_token(op.token_url, refresh_token=session.token["refresh_token"])
        assert new["refresh_token"] not in seen, "every refresh returns a new refresh token"
        seen.add(new["refresh_token"])
        assert userinfo(op, new["access_token"]).status_code == 200
    first = claims(tokens["id_token"])
    last = claims(session.token["id_token"])
    assert last["auth_time"] == first["auth_time"] and last["sid"] == first["sid"], "refresh keeps auth_time and sid"
    assert "nonce" not in last


def test_scope_may_narrow_but_not_widen(op):
    client = refresh_client(op)
    tokens, _ = first_tokens(op, client, scope="openid offline_access")
    wider = refresh(op, client, tokens["refresh_token"], scope="openid offline_access profile")
    assert_token_error(wider, "invalid_scope")
    # Nothing changed: the same token still rotates, and a narrower scope is granted.
    narrower = refresh(op, client, tokens["refresh_token"], scope="openid")
    assert narrower.status_code == 200, narrower.text
    assert narrower.json()["scope"] == "openid"
    assert_no_store(narrower)


def test_a_refresh_token_is_bound_to_its_client(op):
    client = refresh_client(op)
    other = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    assert_token_error(refresh(op, other, tokens["refresh_token"]), "invalid_grant")
    assert refresh(op, client, tokens["refresh_token"]).status_code == 200, "another client's attempt changed nothing"


def test_reuse_revokes_the_family_and_its_access_tokens(op):
    client = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    rotated = refresh(op, client, tokens["refresh_token"]).json()
    latest = refresh(op, client, rotated["refresh_token"]).json()
    assert userinfo(op, latest["access_token"]).status_code == 200
    # The first token again: a replay (RFC 9700 §4.14.2).
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")
    assert_token_error(refresh(op, client, latest["refresh_token"]), "invalid_grant")
    for access_token in (tokens["access_token"], rotated["access_token"], latest["access_token"]):
        response = userinfo(op, access_token)
        assert response.status_code == 401, "every access token of the family is revoked"
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_grace_window_gives_the_same_successor_then_reuse_revokes(op):
    client = refresh_client(op, "--refresh-grace", "2s")
    tokens, _ = first_tokens(op, client)
    first = refresh(op, client, tokens["refresh_token"]).json()
    retry = refresh(op, client, tokens["refresh_token"])
    assert retry.status_code == 200, retry.text
    assert retry.json()["refresh_token"] == first["refresh_token"], "within the window: the same successor"
    time.sleep(2.5)
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")
    assert_token_error(refresh(op, client, first["refresh_token"]), "invalid_grant")


def test_disabled_user_or_client_cannot_refresh(op):
    client = refresh_client(op)
    tokens, user = first_tokens(op, client)
    op.cli("users", "disable", user["username"])
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")
    op.cli("users", "enable", user["username"])
    rotated = refresh(op, client, tokens["refresh_token"])
    assert rotated.status_code == 200, "a refused refresh did not use the token"
    confidential = refresh_client(op, confidential=True)
    tokens, _ = first_tokens(op, confidential)
    op.cli("clients", "disable", confidential["client_id"])
    assert refresh(op, confidential, tokens["refresh_token"]).status_code == 401


def test_idle_lifetime_ends_an_unused_token(op):
    client = refresh_client(op, "--refresh-idle-ttl", "60s")
    tokens, _ = first_tokens(op, client)
    # Age the token in the database rather than wait a minute.
    psql_db(op, "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL AND family_id IN "
                f"(SELECT id FROM refresh_token_families WHERE client_id = '{client['client_id']}')")
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")


def psql_db(op, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", op.env["PGDATABASE"], "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def psql_rows(database, sql):
    out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


# Revocation (RFC 7009)

def test_authlib_revokes_a_refresh_token_and_the_family_ends(op):
    client = refresh_client(op, confidential=True)
    tokens, _ = first_tokens(op, client)
    session = OAuth2Session(client["client_id"], client["client_secret"], token_endpoint_auth_method="client_secret_basic",
                            token=tokens)
    response = session.revoke_token(op.base + "/revoke", token=tokens["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    assert_no_store(response)
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")
    assert userinfo(op, tokens["access_token"]).status_code == 401, "the family's access tokens go with it"


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_an_access_token_is_revoked_alone(op, token_format):
    client = refresh_client(op, "--token-format", token_format)
    tokens, _ = first_tokens(op, client)
    assert userinfo(op, tokens["access_token"]).status_code == 200
    response = revoke(op, client, tokens["access_token"], hint="access_token")
    assert response.status_code == 200
    assert userinfo(op, tokens["access_token"]).status_code == 401
    assert refresh(op, client, tokens["refresh_token"]).status_code == 200, "the refresh token still works"


def test_revocation_answers_and_refusals(op):
    client = refresh_client(op)
    other = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    for garbage in ["garbage", "tsr_" + "A" * 43, "a.b.c", "tsa_k1.AAAA"]:
        assert revoke(op, client, garbage).status_code == 200, garbage
    refused = revoke(op, other, tokens["refresh_token"])
    assert_token_error(refused, "unauthorized_client")
    refused = revoke(op, other, tokens["access_token"])
    assert_token_error(refused, "unauthorized_client")
    assert userinfo(op, tokens["access_token"]).status_code == 200, "another client's attempt left the token alone"
    assert refresh(op, client, tokens["refresh_token"]).status_code == 200
    assert_token_error(requests.post(op.base + "/revoke", data={"client_id": client["client_id"]}, timeout=10), "invalid_request")
    assert requests.post(op.base + "/revoke", data={"token": "x"}, timeout=10).status_code == 401


def test_tokens_revoke_cli_logs_a_user_out_everywhere(op):
    client = refresh_client(op)
    user = op.user()
    first, _ = first_tokens(op, client, user=user)
    second, _ = first_tokens(op, client, user=user)
    result = op.cli_json("tokens", "revoke", "--user", user["username"])
    assert result["families_revoked"] == 2
    for tokens in (first, second):
        assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")
        assert userinfo(op, tokens["access_token"]).status_code == 401


def test_logout_revokes_the_families_of_the_session(op):
    client = refresh_client(op, "--post-logout-redirect-uris", "http://127.0.0.1:8765/out")
    user = op.user()
    browser = Browser(op)
    response = redeem(op, browser.sign_in(client, user, scope=SCOPE))
    tokens = response.json()
    out = browser.http.get(op.logout_url, params={"id_token_hint": tokens["id_token"],
                                                 "post_logout_redirect_uri": "http://127.0.0.1:8765/out"},
                           allow_redirects=False, timeout=10)
    assert out.status_code in (302, 303)
    assert_token_error(refresh(op, client, tokens["refresh_token"]), "invalid_grant")


def test_discovery_lists_revocation_and_the_refresh_grant(op):
    document = requests.get(op.base + "/.well-known/openid-configuration", timeout=10).json()
    assert document["revocation_endpoint"] == op.issuer + "/revoke"
    assert "refresh_token" in document["grant_types_supported"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} <= set(
        document["revocation_endpoint_auth_methods_supported"])
    assert "offline_access" in document["scopes_supported"]


# Several instances on one database

@pytest.fixture
def cluster(start_server, database, keys_dir):
    """Three `tessera serve` processes on one database, sharing the key-encryption key and the issuer."""
    env = {"TESSERA_ISSUER": ISSUER}
    servers = [start_server(args=["--migrate"] if i == 0 else [], database=database, env=env) for i in range(3)]
    yield servers, Provider(servers[0].base, {"PGDATABASE": database, "TESSERA_KEYS_DIR": keys_dir}, issuer=ISSUER)


def test_fifty_concurrent_refreshes_across_three_instances_one_succeeds(cluster):
    servers, op = cluster
    client = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    barrier = threading.Barrier(50)
    results = [None] * 50

    def attempt(index):
        barrier.wait()
        results[index] = refresh(op, client, tokens["refresh_token"], base=servers[index % 3].base)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = [r.status_code for r in results]
    assert statuses.count(200) == 1, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code != 200)
    winner = next(r for r in results if r.status_code == 200).json()
    # Every loser presented an already rotated token: the family is revoked, the winner's successor too.
    assert_token_error(refresh(op, client, winner["refresh_token"]), "invalid_grant")
    rows = psql_rows(op.env["PGDATABASE"], f"""
        SELECT f.revoked_at IS NOT NULL, array_agg(t.generation ORDER BY t.generation)
        FROM refresh_token_families f JOIN refresh_tokens t ON t.family_id = f.id
        WHERE f.client_id = '{client['client_id']}' GROUP BY f.id""")
    assert rows == [["t", "{1,2}"]], f"one family, revoked, with exactly one successor: {rows}"


def test_a_revocation_on_one_instance_is_seen_by_another_within_a_second(cluster):
    servers, op = cluster
    client = refresh_client(op)
    tokens, _ = first_tokens(op, client)
    b = Provider(servers[1].base, op.env, issuer=ISSUER)
    assert userinfo(b, tokens["access_token"]).status_code == 200
    assert revoke(op, client, tokens["access_token"], base=servers[0].base).status_code == 200
    start = time.monotonic()
    while userinfo(b, tokens["access_token"]).status_code != 401:
        assert time.monotonic() - start < 1.0, "instance B still accepts a token revoked at A"
        time.sleep(0.05)


def test_a_revocation_is_seen_at_once_by_the_instance_that_made_it(op):
    """Read-your-writes: the revoking instance must not wait for its own notification to come back."""
    deadline = time.time() + 10
    while "tessera_revocations_synchronized 1" not in requests.get(op.admin + "/metrics", timeout=5).text:
        assert time.time() < deadline, "revocations never synchronised"
        time.sleep(0.1)
    for token_format in ("jwt", "opaque"):
        client = refresh_client(op, "--token-format", token_format)
        user = op.user()
        for _ in range(10):
            tokens, _ = first_tokens(op, client, user=user)
            assert revoke(op, client, tokens["access_token"]).status_code == 200
            assert userinfo(op, tokens["access_token"]).status_code == 401, "revoked access token accepted right after"
            assert revoke(op, client, tokens["refresh_token"]).status_code == 200
            rotated_family = refresh(op, client, tokens["refresh_token"])
            assert rotated_family.status_code == 400
        tokens, _ = first_tokens(op, client, user=user)
        rotated = refresh(op, client, tokens["refresh_token"]).json()
        refresh(op, client, tokens["refresh_token"])  # reuse: the family and its access tokens are revoked
        assert userinfo(op, rotated["access_token"]).status_code == 401, "the family's token accepted right after reuse"
