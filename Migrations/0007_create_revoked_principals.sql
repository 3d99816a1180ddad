-- Revocation by principal: when a client or a user is disabled or deleted, every access token
-- issued to it up to that moment stops being active, on every instance, at once. Instances hold
-- these rows in memory next to the revoked jtis, so introspection still needs no database read.
CREATE TABLE revoked_principals (
    kind           text        NOT NULL CHECK (kind IN ('client', 'user')),
    -- The client id, or the user's subject (its id in lowercase).
    principal      text        NOT NULL,
    -- Access tokens of this principal whose iat (seconds since the epoch) is at or before this are revoked.
    issued_before  bigint      NOT NULL,
    -- Once every token issued before the cut-off has expired, the row may go.
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz NOT NULL DEFAULT now(),
    reason         text        NOT NULL,
    PRIMARY KEY (kind, principal)
);
CREATE INDEX revoked_principals_expiry ON revoked_principals (expires_at);

-- A user's subject is a UUID and a client's subject is its id: a client id of that form could
-- name a person in a token's `sub`. New and changed rows are checked; rows from before stay.
ALTER TABLE clients ADD CONSTRAINT clients_id_not_uuid
    CHECK (id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') NOT VALID;
