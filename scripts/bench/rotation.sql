-- The database ceiling of one refresh rotation, for pgbench: the same statements Tessera runs in
-- one transaction (PostgresRefreshTokenStore.rotate), on tables of the same shape.
\set f random(1, :families)
BEGIN;
SELECT family_id FROM bench_refresh_tokens WHERE token_sha256 = sha256(('t' || :f)::bytea);
SELECT id, client_id, scopes, expires_at, revoked_at FROM bench_families WHERE id = :f FOR UPDATE;
SELECT generation, used_at FROM bench_refresh_tokens WHERE token_sha256 = sha256(('t' || :f)::bytea);
UPDATE bench_refresh_tokens SET used_at = now() WHERE token_sha256 = sha256(('t' || :f)::bytea);
INSERT INTO bench_refresh_tokens (token_sha256, family_id, generation, expires_at)
    VALUES (sha256(gen_random_uuid()::text::bytea), :f, nextval('bench_generation'), now() + interval '7 days');
INSERT INTO bench_family_access_tokens (jti, family_id, expires_at) VALUES (gen_random_uuid()::text, :f, now() + interval '10 minutes');
COMMIT;
