-- End users, who will sign in at the browser login page. Passwords live here as Argon2id
-- PHC strings only. `id` is the subject identifier (`sub`): OIDC Core §2 says it is
-- "never reassigned", so it is an opaque UUID that survives a change of username.
-- Usernames are printable ASCII without spaces (the model checks this; the CHECK below
-- backs it up), so that look-alike Unicode spellings of one name cannot coexist.
CREATE TABLE users (
    id                   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username             text        NOT NULL CHECK (username COLLATE "C" ~ '^[!-~]{1,64}$'),
    password_hash        text        NOT NULL,
    email                text        CHECK (octet_length(email) BETWEEN 3 AND 254),
    email_verified       boolean     NOT NULL DEFAULT false,
    name                 text        CHECK (octet_length(name) BETWEEN 1 AND 200),
    disabled             boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR NOT email_verified)
);

-- Usernames are unique whatever their case: "Alice" and "alice" are one account, stored
-- as first typed. The "C" collation folds A-Z only, the same under every database locale.
CREATE UNIQUE INDEX users_username_case_insensitive ON users (lower(username COLLATE "C"));
