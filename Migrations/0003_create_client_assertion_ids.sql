-- The `jti` of every private_key_jwt client assertion accepted, kept until the assertion
-- expires, so that none is accepted twice (RFC 7523 §3, OIDC Core §9). The jti is stored
-- as its SHA-256, which bounds the row size whatever the client sends.
CREATE TABLE client_assertion_ids (
    client_id   text        NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    jti_sha256  bytea       NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti_sha256)
);
CREATE INDEX client_assertion_ids_expiry ON client_assertion_ids (expires_at);
