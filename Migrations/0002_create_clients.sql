-- Registered clients. Secrets live in client_secrets as Argon2id hashes only.
CREATE TABLE clients (
    id                        text        PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
    name                      text        NOT NULL,
    client_type               text        NOT NULL CHECK (client_type IN ('confidential', 'public')),
    auth_method               text        NOT NULL CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
    grant_types               text[]      NOT NULL,
    redirect_uris             text[]      NOT NULL DEFAULT '{}',
    allowed_scopes            text[]      NOT NULL DEFAULT '{}',
    default_scopes            text[]      NOT NULL DEFAULT '{}',
    audiences                 text[]      NOT NULL DEFAULT '{}',
    access_token_format       text        NOT NULL DEFAULT 'jwt' CHECK (access_token_format IN ('jwt', 'opaque')),
    access_token_ttl_seconds  integer     CHECK (access_token_ttl_seconds BETWEEN 1 AND 86400),
    signing_algorithm         text        NOT NULL DEFAULT 'ES256' CHECK (signing_algorithm IN ('RS256', 'ES256')),
    skip_consent              boolean     NOT NULL DEFAULT false,
    introspect_audiences      text[]      NOT NULL DEFAULT '{}',
    jwks                      jsonb,
    disabled                  boolean     NOT NULL DEFAULT false,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

-- A client has a current secret and, during a rotation's grace period, the previous one.
CREATE TABLE client_secrets (
    client_id    text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    secret_hash  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    PRIMARY KEY (client_id, created_at)
);
CREATE INDEX client_secrets_expiry ON client_secrets (expires_at) WHERE expires_at IS NOT NULL;
