-- Refresh-token rotation and code redemption in one round trip each.
--
-- Rotation: the whole decision (lock the family, check the token,
-- the grace window or reuse, mark the token used, store the successor, record the access token) is
-- one function called in one statement, so a rotation costs one round trip to PostgreSQL instead of
-- one per step. It is exactly the transaction the application ran before, statement for statement.
--
-- Returns one row: the outcome ('rotated', 'grace_retry', 'reuse_detected', 'invalid',
-- 'invalid_scope'), a detail for 'invalid', the family (for 'rotated' and 'grace_retry') and, for
-- 'reuse_detected', the access tokens revoked with the family (their expiries as seconds since the epoch).
CREATE FUNCTION tessera_rotate_refresh_token(
    p_token_sha256 bytea,
    p_client_id text,
    p_successor_sha256 bytea,
    p_requested_scopes text[],
    p_idle_seconds double precision,
    p_grace_seconds double precision,
    p_access_jti text,
    p_access_expires_at timestamptz,
    OUT outcome text,
    OUT detail text,
    OUT family_id uuid,
    OUT client_id text,
    OUT user_id uuid,
    OUT scopes text[],
    OUT audiences text[],
    OUT auth_time timestamptz,
    OUT sid text,
    OUT expires_at timestamptz,
    OUT username text,
    OUT revoked_jtis text[],
    OUT revoked_expires_at text[]
) LANGUAGE plpgsql AS $$
DECLARE
    f refresh_token_families%ROWTYPE;
    v_user_disabled boolean;
    t refresh_tokens%ROWTYPE;
    s refresh_tokens%ROWTYPE;
    v_channel text;
BEGIN
    SELECT rt.family_id INTO family_id FROM refresh_tokens rt WHERE rt.token_sha256 = p_token_sha256;
    IF NOT FOUND THEN
        outcome := 'invalid'; detail := 'unknown refresh token'; RETURN;
    END IF;
    -- Lock the family first: every rotation of one family runs one after the other.
    SELECT * INTO f FROM refresh_token_families rf WHERE rf.id = family_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'invalid'; detail := 'family deleted'; RETURN;
    END IF;
    SELECT u.disabled, u.username INTO v_user_disabled, username FROM users u WHERE u.id = f.user_id;
    client_id := f.client_id; user_id := f.user_id; scopes := f.scopes; audiences := f.audiences;
    auth_time := f.auth_time; sid := f.sid; expires_at := f.expires_at;
    -- Re-read the token under the family lock: a concurrent rotation may have used it meanwhile.
    SELECT * INTO t FROM refresh_tokens rt WHERE rt.token_sha256 = p_token_sha256;
    IF NOT FOUND THEN
        outcome := 'invalid'; detail := 'token deleted'; RETURN;
    END IF;
    -- RFC 6749 §6: the refresh token must have been issued to the authenticated client.
    IF f.client_id <> p_client_id THEN
        outcome := 'invalid'; detail := 'family of client ' || f.client_id || ' presented by ' || p_client_id; RETURN;
    END IF;
    IF f.revoked_at IS NOT NULL THEN
        outcome := 'invalid'; detail := 'family revoked'; RETURN;
    END IF;
    IF f.expires_at <= now() THEN
        outcome := 'invalid'; detail := 'family past its absolute lifetime'; RETURN;
    END IF;
    IF v_user_disabled THEN
        outcome := 'invalid'; detail := 'user disabled'; RETURN;
    END IF;
    IF t.used_at IS NOT NULL THEN
        SELECT * INTO s FROM refresh_tokens rt WHERE rt.family_id = f.id AND rt.generation = t.generation + 1;
        -- The grace window: the same client retrying a rotation it may not have received gets the
        -- same successor, as long as that successor has not been used itself.
        IF p_grace_seconds > 0 AND extract(epoch FROM now() - t.used_at) <= p_grace_seconds AND FOUND
           AND s.used_at IS NULL AND s.token_sha256 = p_successor_sha256 THEN
            IF p_requested_scopes IS NOT NULL AND NOT (p_requested_scopes <@ f.scopes) THEN
                outcome := 'invalid_scope'; RETURN;
            END IF;
            INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (p_access_jti, f.id, p_access_expires_at);
            outcome := 'grace_retry'; RETURN;
        END IF;
        -- RFC 9700 §4.14.2: a rotated token presented again revokes the family and every access
        -- token issued from it; each newly revoked jti is announced.
        UPDATE refresh_token_families SET revoked_at = now(), revoked_reason = 'refresh token reused' WHERE id = f.id;
        v_channel := 'tessera_revocations_' || (SELECT oid FROM pg_namespace WHERE nspname = current_schema())::text;
        WITH revoked AS (
            INSERT INTO revoked_access_tokens (jti, expires_at, reason)
            SELECT fat.jti, fat.expires_at, 'refresh token reused' FROM family_access_tokens fat
            WHERE fat.family_id = f.id AND fat.expires_at > now()
            ON CONFLICT (jti) DO NOTHING
            RETURNING revoked_access_tokens.jti, revoked_access_tokens.expires_at
        ), notified AS (
            SELECT r.jti, r.expires_at, pg_notify(v_channel, r.jti) FROM revoked r
        )
        SELECT coalesce(array_agg(n.jti), '{}'), coalesce(array_agg(extract(epoch FROM n.expires_at)::text), '{}')
        INTO revoked_jtis, revoked_expires_at FROM notified n;
        outcome := 'reuse_detected'; RETURN;
    END IF;
    IF t.expires_at <= now() THEN
        outcome := 'invalid'; detail := 'refresh token idle-expired'; RETURN;
    END IF;
    IF p_requested_scopes IS NOT NULL AND NOT (p_requested_scopes <@ f.scopes) THEN
        outcome := 'invalid_scope'; RETURN;
    END IF;
    UPDATE refresh_tokens SET used_at = now() WHERE token_sha256 = p_token_sha256;
    INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
    VALUES (p_successor_sha256, f.id, t.generation + 1,
            least(now() + make_interval(secs => p_idle_seconds), f.expires_at));
    INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (p_access_jti, f.id, p_access_expires_at);
    outcome := 'rotated';
END;
$$;

-- Code redemption in one round trip, the same way: lock the code, refuse a replay (revoking what
-- the code issued), an expired code or a failed check (client, redirect URI, PKCE; the code is
-- consumed whatever the outcome), else start the refresh family when the grant includes one,
-- record the access token and mark the code redeemed.
--
-- p_verifier_challenge is BASE64URL(SHA256(code_verifier)) computed by the application (NULL for a
-- malformed verifier, which never matches); comparing it with the stored challenge compares
-- digests, which tells nothing of the verifier. p_family_id is NULL when the client gets no refresh
-- tokens; a family is started only for a scope that allows one (an OpenID code needs
-- offline_access).
--
-- Returns one row: the outcome ('redeemed', 'rejected', 'already_redeemed', 'expired',
-- 'not_found'), a detail for 'rejected', the code, and for 'already_redeemed' the access tokens
-- revoked now (expiries as seconds since the epoch).
CREATE FUNCTION tessera_redeem_code(
    p_code_sha256 bytea,
    p_client_id text,
    p_redirect_uri text,
    p_verifier_challenge text,
    p_access_jti text,
    p_access_expires_at timestamptz,
    p_family_id uuid,
    p_family_expires_at timestamptz,
    p_token_sha256 bytea,
    p_token_expires_at timestamptz,
    OUT outcome text,
    OUT detail text,
    OUT client_id text,
    OUT user_id uuid,
    OUT redirect_uri text,
    OUT code_challenge text,
    OUT scopes text[],
    OUT audiences text[],
    OUT nonce text,
    OUT sid text,
    OUT auth_time timestamptz,
    OUT expires_at timestamptz,
    OUT refresh_family_id uuid,
    OUT revoked_jtis text[],
    OUT revoked_expires_at text[]
) LANGUAGE plpgsql AS $$
DECLARE
    c authorization_codes%ROWTYPE;
    v_channel text;
    v_jti text;
    v_expires timestamptz;
BEGIN
    SELECT * INTO c FROM authorization_codes ac WHERE ac.code_sha256 = p_code_sha256 FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found'; RETURN;
    END IF;
    client_id := c.client_id; user_id := c.user_id; redirect_uri := c.redirect_uri; code_challenge := c.code_challenge;
    scopes := c.scopes; audiences := c.audiences; nonce := c.nonce; sid := c.sid; auth_time := c.auth_time; expires_at := c.expires_at;
    revoked_jtis := '{}'; revoked_expires_at := '{}';
    IF c.redeemed_at IS NOT NULL THEN
        -- RFC 6749 §4.1.2: the server "SHOULD revoke (when possible) all tokens previously issued
        -- based on that authorization code".
        v_channel := 'tessera_revocations_' || (SELECT oid FROM pg_namespace WHERE nspname = current_schema())::text;
        IF c.access_token_jti IS NOT NULL THEN
            INSERT INTO revoked_access_tokens (jti, expires_at, reason)
            VALUES (c.access_token_jti, c.access_token_expires_at, 'authorization code reused')
            ON CONFLICT (jti) DO NOTHING;
            IF FOUND THEN PERFORM pg_notify(v_channel, c.access_token_jti); END IF;
            revoked_jtis := revoked_jtis || c.access_token_jti;
            revoked_expires_at := revoked_expires_at || extract(epoch FROM c.access_token_expires_at)::text;
        END IF;
        IF c.refresh_family_id IS NOT NULL THEN
            UPDATE refresh_token_families SET revoked_at = now(), revoked_reason = 'authorization code reused'
            WHERE id = c.refresh_family_id AND revoked_at IS NULL;
            IF FOUND THEN
                FOR v_jti, v_expires IN
                    SELECT fat.jti, fat.expires_at FROM family_access_tokens fat
                    WHERE fat.family_id = c.refresh_family_id AND fat.expires_at > now()
                LOOP
                    INSERT INTO revoked_access_tokens (jti, expires_at, reason) VALUES (v_jti, v_expires, 'authorization code reused')
                    ON CONFLICT (jti) DO NOTHING;
                    IF FOUND THEN PERFORM pg_notify(v_channel, v_jti); END IF;
                    IF NOT v_jti = ANY(revoked_jtis) THEN
                        revoked_jtis := revoked_jtis || v_jti;
                        revoked_expires_at := revoked_expires_at || extract(epoch FROM v_expires)::text;
                    END IF;
                END LOOP;
            END IF;
        END IF;
        outcome := 'already_redeemed'; RETURN;
    END IF;
    IF c.expires_at <= now() THEN
        UPDATE authorization_codes SET redeemed_at = now() WHERE code_sha256 = p_code_sha256;
        outcome := 'expired'; RETURN;
    END IF;
    -- RFC 6749 §4.1.3: issued to the authenticated client, with an identical redirect_uri;
    -- RFC 7636 §4.6: the verifier's S256 challenge equals the stored one. A failed check consumes the code.
    IF c.client_id <> p_client_id THEN
        detail := 'code of client ' || c.client_id || ' presented by ' || p_client_id;
    ELSIF c.redirect_uri <> p_redirect_uri THEN
        detail := 'redirect_uri differs from the authorization request';
    ELSIF p_verifier_challenge IS NULL OR c.code_challenge <> p_verifier_challenge THEN
        detail := 'PKCE verification failed';
    END IF;
    IF detail IS NOT NULL THEN
        UPDATE authorization_codes SET redeemed_at = now() WHERE code_sha256 = p_code_sha256;
        outcome := 'rejected'; RETURN;
    END IF;
    IF p_family_id IS NOT NULL AND (NOT 'openid' = ANY(c.scopes) OR 'offline_access' = ANY(c.scopes)) THEN
        INSERT INTO refresh_token_families (id, client_id, user_id, scopes, audiences, auth_time, sid, expires_at)
        VALUES (p_family_id, c.client_id, c.user_id, c.scopes, c.audiences, c.auth_time, c.sid, p_family_expires_at);
        INSERT INTO refresh_tokens (token_sha256, family_id, generation, expires_at)
        VALUES (p_token_sha256, p_family_id, 1, least(p_token_expires_at, p_family_expires_at));
        INSERT INTO family_access_tokens (jti, family_id, expires_at) VALUES (p_access_jti, p_family_id, p_access_expires_at);
        refresh_family_id := p_family_id;
    END IF;
    UPDATE authorization_codes SET redeemed_at = now(), access_token_jti = p_access_jti,
        access_token_expires_at = p_access_expires_at, refresh_family_id = tessera_redeem_code.refresh_family_id
    WHERE code_sha256 = p_code_sha256;
    outcome := 'redeemed';
END;
$$;
