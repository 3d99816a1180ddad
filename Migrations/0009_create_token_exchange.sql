-- Token exchange (RFC 8693). A client registered for the grant has a policy: the audiences it may
-- obtain exchanged tokens for, whether it may impersonate (exchange without an actor) or only
-- delegate, and how many exchanges may lie behind a token it gets.
ALTER TABLE clients
    ADD COLUMN exchange_audiences          text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN exchange_may_impersonate    boolean NOT NULL DEFAULT false,
    ADD COLUMN exchange_max_depth          integer NOT NULL DEFAULT 1 CHECK (exchange_max_depth BETWEEN 1 AND 5);

-- External issuers whose JWTs may be exchanged: their keys registered from a file, or fetched from
-- their JWKS URI by every instance. Every change is announced on tessera_issuers.
CREATE TABLE trusted_issuers (
    issuer          text        PRIMARY KEY CHECK (length(issuer) BETWEEN 1 AND 255),
    jwks            jsonb,
    jwks_uri        text,
    audiences       text[]      NOT NULL CHECK (cardinality(audiences) > 0),
    subject_prefix  text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((jwks IS NULL) <> (jwks_uri IS NULL))
);

-- Ending a login session (a logout) revokes every access token issued in it, and every token
-- exchanged from one: a revocation by principal, held in memory like the others.
ALTER TABLE revoked_principals DROP CONSTRAINT revoked_principals_kind_check;
ALTER TABLE revoked_principals ADD CONSTRAINT revoked_principals_kind_check CHECK (kind IN ('client', 'user', 'session'));
