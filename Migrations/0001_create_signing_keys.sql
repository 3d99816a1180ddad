-- Signing keys (RS256 and ES256) with their lifecycle. Private keys are sealed with
-- AES-256-GCM under the key-encryption key, which never enters the database.
CREATE TABLE signing_keys (
    kid                text        PRIMARY KEY,
    algorithm          text        NOT NULL CHECK (algorithm IN ('RS256', 'ES256')),
    state              text        NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    public_jwk         jsonb       NOT NULL,
    sealed_private_key bytea       NOT NULL,
    kek_id             text        NOT NULL,
    created_at         timestamptz NOT NULL,
    activated_at       timestamptz,
    retired_at         timestamptz,
    unpublish_after    timestamptz,
    CHECK (state <> 'active' OR activated_at IS NOT NULL),
    CHECK (state <> 'retired' OR (retired_at IS NOT NULL AND unpublish_after IS NOT NULL))
);

-- Exactly one signing key and at most one announced key per algorithm, whatever races.
CREATE UNIQUE INDEX signing_keys_one_active_per_algorithm ON signing_keys (algorithm) WHERE state = 'active';
CREATE UNIQUE INDEX signing_keys_one_next_per_algorithm ON signing_keys (algorithm) WHERE state = 'next';
