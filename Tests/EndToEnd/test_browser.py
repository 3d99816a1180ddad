"""The browser login in a real headless Chromium, driven by Selenium as a user would click through it.

The client's redirect URIs are a tiny http.server on loopback that records every query it receives;
authlib builds the authorization requests and redeems the codes, PyJWT and jwcrypto check the ID
tokens. Debian's chromium and chromium-driver are installed by `scripts/install-deps.sh test`.
"""
import http.server
import os
import threading
import urllib.parse

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from test_authorization_code import launch, verify_id_token

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CLIENT_NAME = "Looking-Glass Notes"
WAIT = 20


class Callback:
    """The client's side of the redirects: records the path and query of every visit to it."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                known = parts.path in ("/cb", "/signed-out")
                if known:
                    received.append((parts.path, dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))))
                body = b"<!doctype html><html><head><title>client</title></head><body>back at the client</body></html>"
                self.send_response(200 if known else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.redirect_uri = self.base + "/cb"
        self.signed_out_uri = self.base + "/signed-out"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def callback():
    server = Callback()
    yield server
    server.close()


@pytest.fixture
def chrome():
    """Headless Chromium through Debian's chromedriver; skipped only where it is not installed and not in CI."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        message = f"{' and '.join(missing)} not installed (scripts/install-deps.sh test installs them)"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message + ": CI must run the browser tests")
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


@pytest.fixture
def oidc(tmp_path, callback):
    """A server, a public client whose redirect URIs are the callback server, and a user."""
    generator = launch(tmp_path)
    op = next(generator)
    client = op.client("--name", CLIENT_NAME, "--post-logout-redirect-uris", callback.signed_out_uri,
                       redirect_uris=(callback.redirect_uri,))
    user = op.user()
    yield op, client, user
    generator.close()


class RelyingParty:
    """authlib as the client: S256 PKCE, a nonce per request, and the state it checks itself."""

    def __init__(self, op, client, callback):
        self.op = op
        self.client = client
        self.session = OAuth2Session(client["client_id"], token_endpoint_auth_method="none",
                                     redirect_uri=callback.redirect_uri, scope="openid profile email",
                                     code_challenge_method="S256")

    def authorization_url(self):
        self.verifier = generate_token(64)
        self.nonce = generate_token(20)
        url, self.state = self.session.create_authorization_url(self.op.authorize_url, code_verifier=self.verifier,
                                                                nonce=self.nonce)
        return url

    def finish(self, callback_url):
        """Redeems the code of the callback URL (authlib checks its state) and verifies the ID token."""
        token = self.session.fetch_token(self.op.token_url, authorization_response=callback_url,
                                         code_verifier=self.verifier, state=self.state)
        claims = verify_id_token(self.op, token["id_token"], self.client["client_id"], token["access_token"], self.nonce)
        return token, claims


def console_problems(driver):
    """Console errors and CSP violations the page caused (the browser log, where the driver offers it)."""
    if not hasattr(driver, "get_log"):
        return []
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    # A missing /favicon.ico is the browser's own request, not the page's.
    return [e["message"] for e in entries if e.get("level") == "SEVERE" and "favicon.ico" not in e.get("message", "")]


def wait_for(driver, condition, what):
    try:
        return WebDriverWait(driver, WAIT).until(condition)
    except TimeoutException:
        raise AssertionError(f"waited {WAIT} s for {what}; at {driver.current_url}: {driver.page_source[:1500]}") from None


def login_form_shown(driver):
    return driver.find_elements(By.ID, "sign-in")


def arrive_at_callback(driver, callback, path, what):
    """Waits until the browser is back at the client (or shows the login form, which then fails)."""
    prefix = callback.base + path
    wait_for(driver, lambda d: d.current_url.startswith(prefix) or login_form_shown(d), what)
    assert driver.current_url.startswith(prefix), f"{what}: the login form was shown instead ({driver.current_url})"
    recorded_path, query = callback.received[-1]
    assert recorded_path == path
    return query


def type_credentials_and_sign_in(driver, user):
    button = wait_for(driver, expected_conditions.element_to_be_clickable((By.ID, "sign-in")), "the login form")
    driver.find_element(By.NAME, "username").send_keys(user["username"])
    driver.find_element(By.NAME, "password").send_keys(user["password"])
    button.click()


def test_sign_in_single_sign_on_logout_and_sign_in_again(chrome, callback, oidc):
    op, client, user = oidc
    rp = RelyingParty(op, client, callback)

    # 1. The login form, then consent, then back at the client with a code.
    chrome.get(rp.authorization_url())
    wait_for(chrome, expected_conditions.visibility_of_element_located((By.ID, "sign-in")), "the login form")
    assert chrome.current_url.startswith(op.authorize_url), "the login form is shown at /authorize, not behind a redirect"
    assert console_problems(chrome) == [], "the login page logged errors"
    type_credentials_and_sign_in(chrome, user)
    allow = wait_for(chrome, expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button[name=decision][value=allow]")),
                     "the consent page")
    assert CLIENT_NAME in chrome.page_source, "the consent page names the client"
    assert console_problems(chrome) == [], "the consent page logged errors"
    allow.click()
    query = arrive_at_callback(chrome, callback, "/cb", "the first authorization")
    assert query.get("state") == rp.state and query.get("iss") == op.issuer and query.get("code"), query
    token, first = rp.finish(chrome.current_url)
    assert first["sub"] == user["sub"]
    claims = rp.session.get(op.userinfo_url, timeout=10).json()
    assert claims["sub"] == user["sub"] and claims.get("preferred_username") == user["username"], claims
    assert claims.get("email") == user["email"] and claims.get("name") == "Alice Liddell", claims

    # 2. Single sign-on: straight back to the client, no form.
    seen = len(callback.received)
    chrome.get(rp.authorization_url())
    query = arrive_at_callback(chrome, callback, "/cb", "the second authorization (single sign-on)")
    assert len(callback.received) == seen + 1
    assert query.get("state") == rp.state and query.get("code"), query
    token, second = rp.finish(chrome.current_url)
    assert second["sid"] == first["sid"] and second["auth_time"] == first["auth_time"]

    # 3. RP-initiated logout back to the client, with its state.
    logout_state = generate_token(16)
    chrome.get(op.logout_url + "?" + urllib.parse.urlencode({
        "id_token_hint": token["id_token"], "post_logout_redirect_uri": callback.signed_out_uri, "state": logout_state}))
    query = arrive_at_callback(chrome, callback, "/signed-out", "the logout")
    assert query.get("state") == logout_state, query

    # 4. Signed out: the form again; signing in again needs no second consent.
    chrome.get(rp.authorization_url())
    wait_for(chrome, expected_conditions.visibility_of_element_located((By.ID, "sign-in")), "the login form after logout")
    assert chrome.current_url.startswith(op.authorize_url)
    type_credentials_and_sign_in(chrome, user)
    query = arrive_at_callback(chrome, callback, "/cb", "signing in again (consent remembered)")
    assert query.get("state") == rp.state, query
    _, third = rp.finish(chrome.current_url)
    assert third["sid"] != first["sid"], "a new login is a new session"
    assert console_problems(chrome) == []


def test_login_page_fits_a_phone(chrome, callback, oidc):
    op, client, _ = oidc
    rp = RelyingParty(op, client, callback)
    chrome.set_window_size(390, 844)
    chrome.get(rp.authorization_url())
    button = wait_for(chrome, expected_conditions.visibility_of_element_located((By.ID, "sign-in")), "the login form")
    viewport = chrome.execute_script("return window.innerWidth")
    assert viewport <= 390, f"the window is not phone-sized: {viewport}"
    meta = chrome.execute_script("var m = document.querySelector('meta[name=viewport]'); return m && m.content")
    assert meta and "width=device-width" in meta, f"no viewport meta tag: phones would lay the page out at 980 px ({meta!r})"
    for element in (button, chrome.find_element(By.NAME, "username"), chrome.find_element(By.NAME, "password")):
        rect = element.rect
        assert element.is_displayed(), element.get_attribute("outerHTML")
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= viewport, \
            f"{element.get_attribute('outerHTML')[:100]} spans {rect['x']}..{rect['x'] + rect['width']} of {viewport} px"
    assert button.rect["width"] <= viewport
    scroll_width = chrome.execute_script("return document.documentElement.scrollWidth")
    assert scroll_width <= viewport, f"the page scrolls sideways: {scroll_width} px wide in a {viewport} px viewport"
    assert console_problems(chrome) == [], "the login page logged errors (CSP violations included)"
