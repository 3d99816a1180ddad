-- The browser login: sessions, pending authorization requests, remembered consent,
-- authorization codes, and revoked access tokens. Every secret a browser or client holds
-- (session id, interaction id, code) is stored only as its SHA-256.

-- Clients: where RP-initiated logout may send the browser back, and the ID-token algorithm
-- (OIDC Registration `id_token_signed_response_alg`, RS256 unless the client chose ES256).
ALTER TABLE clients
    ADD COLUMN post_logout_redirect_uris text[] NOT NULL DEFAULT '{}',
    ADD COLUMN id_token_signing_algorithm text NOT NULL DEFAULT 'RS256'
        CHECK (id_token_signing_algorithm IN ('RS256', 'ES256'));

-- A signed-in browser. `sid` is the public session id put in ID tokens (OIDC Front-Channel
-- Logout §2); the cookie value is never stored, only its hash.
CREATE TABLE login_sessions (
    id_sha256     bytea       PRIMARY KEY,
    sid           text        NOT NULL UNIQUE,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time     timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);
CREATE INDEX login_sessions_expiry ON login_sessions (expires_at);

-- An authorization request waiting for the person to sign in or consent. The browser holds
-- the id (in the page) and a browser-binding cookie whose hash must match.
CREATE TABLE authorization_interactions (
    id_sha256       bytea       PRIMARY KEY,
    browser_sha256  bytea       NOT NULL,
    client_id       text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    request         jsonb       NOT NULL,
    user_id         uuid        REFERENCES users (id) ON DELETE CASCADE,
    session_sha256  bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX authorization_interactions_expiry ON authorization_interactions (expires_at);

-- What a user allowed a client, remembered so that the consent page is not shown again.
CREATE TABLE consents (
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scopes      text[]      NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes (RFC 6749 §4.1.2), redeemed at most once. The access token issued at
-- redemption is recorded by its jti (chosen before the redemption commits), so that a second
-- redemption can revoke it.
CREATE TABLE authorization_codes (
    code_sha256              bytea       PRIMARY KEY,
    client_id                text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id                  uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri             text        NOT NULL,
    code_challenge           text        NOT NULL,
    scopes                   text[]      NOT NULL,
    audiences                text[]      NOT NULL,
    nonce                    text,
    sid                      text        NOT NULL,
    auth_time                timestamptz NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    expires_at               timestamptz NOT NULL,
    redeemed_at              timestamptz,
    access_token_jti         text,
    access_token_expires_at  timestamptz
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- Access tokens revoked before their expiry, by jti; a row may go once the token would have
-- expired anyway.
CREATE TABLE revoked_access_tokens (
    jti         text        PRIMARY KEY,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    reason      text        NOT NULL
);
CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at);
