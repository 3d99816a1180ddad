-- Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): one family per grant, rotated on every use.
-- A family is what a user granted a client (scopes, audiences, auth_time, login session); its
-- tokens are generations, stored only as SHA-256 hashes. A reused (already rotated) token
-- revokes the whole family and every access token issued from it.

-- Per-client refresh policy; NULL lifetimes follow the server's settings.
ALTER TABLE clients
    ADD COLUMN refresh_idle_ttl_seconds      integer CHECK (refresh_idle_ttl_seconds > 0),
    ADD COLUMN refresh_absolute_ttl_seconds  integer CHECK (refresh_absolute_ttl_seconds > 0),
    ADD COLUMN refresh_grace_seconds         integer NOT NULL DEFAULT 0 CHECK (refresh_grace_seconds BETWEEN 0 AND 300);

CREATE TABLE refresh_token_families (
    id              uuid        PRIMARY KEY,
    client_id       text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes          text[]      NOT NULL,
    audiences       text[]      NOT NULL,
    auth_time       timestamptz NOT NULL,
    sid             text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX refresh_token_families_user ON refresh_token_families (user_id, client_id);
CREATE INDEX refresh_token_families_sid ON refresh_token_families (sid) WHERE sid IS NOT NULL;
CREATE INDEX refresh_token_families_expiry ON refresh_token_families (expires_at);
CREATE INDEX refresh_token_families_revoked ON refresh_token_families (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_sha256  bytea       PRIMARY KEY,
    family_id     uuid        NOT NULL REFERENCES refresh_token_families (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    -- A generation has one token: a family can never hold two live successors of one token.
    UNIQUE (family_id, generation)
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- The access tokens issued from a family, so that revoking the family revokes them.
CREATE TABLE family_access_tokens (
    jti         text        PRIMARY KEY,
    family_id   uuid        NOT NULL REFERENCES refresh_token_families (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX family_access_tokens_family ON family_access_tokens (family_id);
CREATE INDEX family_access_tokens_expiry ON family_access_tokens (expires_at);

-- The family started at a code's redemption, revoked if the code is replayed.
ALTER TABLE authorization_codes ADD COLUMN refresh_family_id uuid;
