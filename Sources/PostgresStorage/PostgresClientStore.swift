import Foundation
import JOSE
import OAuth
import Postgres

/// What can go wrong when changing a registration.
public enum ClientStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyExists(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .alreadyExists(let id): return "a client with id '\(id)' already exists"
        case .notFound(let id): return "no client with id '\(id)'"
        }
    }
}

/// Clients and their secrets in PostgreSQL (`clients`, `client_secrets`,
/// `client_assertion_ids`). Every change sends `NOTIFY tessera_clients` with the client id,
/// so every instance drops what it cached about that client at once.
public struct PostgresClientStore: ClientCredentialStore {
    public let pool: PostgresPool

    /// The channel instances listen on for client changes; the payload is the client id.
    public static let channel = "tessera_clients"

    public init(pool: PostgresPool) { self.pool = pool }

    static let columns = """
        id, name, client_type, auth_method, grant_types, redirect_uris, allowed_scopes, default_scopes, audiences,
        access_token_format, access_token_ttl_seconds, signing_algorithm, skip_consent, introspect_audiences,
        jwks::text AS jwks, disabled, created_at, updated_at, post_logout_redirect_uris, id_token_signing_algorithm,
        refresh_idle_ttl_seconds, refresh_absolute_ttl_seconds, refresh_grace_seconds
        """

    // MARK: Reading

    public func client(id: String) async throws -> Client? {
        try await pool.storageConnection { connection in try Self.client(id: id, connection) }
    }

    public func list() async throws -> [Client] {
        try await pool.storageConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM clients ORDER BY id")).map(Self.decode)
        }
    }

    /// The client and the hashes of its secrets still valid at the database's `now()`
    /// (the current one, and the previous one during its grace period).
    public func clientWithSecrets(id: String) async throws -> (client: Client, secrets: [(hash: String, createdAt: Date, expiresAt: Date?)])? {
        try await pool.storageConnection { connection in
            guard let client = try Self.client(id: id, connection) else { return nil }
            let rows = try connection.query("""
                SELECT secret_hash, created_at, expires_at FROM client_secrets
                WHERE client_id = \(id) AND (expires_at IS NULL OR expires_at > now())
                ORDER BY created_at DESC
                """)
            let secrets = try rows.map { row in
                (hash: try row.decode("secret_hash", as: String.self), createdAt: try row.decode("created_at", as: Date.self),
                 expiresAt: try row.decode("expires_at", as: Date?.self))
            }
            return (client, secrets)
        }
    }

    /// The client and its secrets still valid (``ClientCredentialStore``).
    public func credentials(clientID: String) async throws -> ClientCredentials? {
        guard let found = try await clientWithSecrets(id: clientID) else { return nil }
        return ClientCredentials(client: found.client, secrets: found.secrets.map {
            StoredClientSecret(hash: $0.hash, createdAt: $0.createdAt, expiresAt: $0.expiresAt)
        })
    }

    /// Secrets of a client, newest first, with their expiry (for `clients show`).
    public func secretSummaries(id: String) async throws -> [(createdAt: Date, expiresAt: Date?)] {
        try await pool.storageConnection { connection in
            try connection.query("""
                SELECT created_at, expires_at FROM client_secrets
                WHERE client_id = \(id) AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC
                """).map { row in (try row.decode("created_at", as: Date.self), try row.decode("expires_at", as: Date?.self)) }
        }
    }

    /// Records a client assertion's `jti` until `expiresAt`; false when the client already
    /// used it and it has not expired (a replay).
    public func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        let digest = SHA256.hash(Array(jti.utf8))
        return try await pool.storageConnection { connection in
            // An expired record of the same jti may be reused; a live one may not.
            let rows = try connection.query("""
                INSERT INTO client_assertion_ids (client_id, jti_sha256, expires_at) VALUES (\(clientID), \(digest), \(expiresAt))
                ON CONFLICT (client_id, jti_sha256) DO UPDATE SET expires_at = EXCLUDED.expires_at
                WHERE client_assertion_ids.expires_at <= now()
                RETURNING 1
                """)
            return rows.count == 1
        }
    }

    // MARK: Changing

    /// Registers `client` with its first secret's hash (nil for clients without a secret).
    public func create(_ client: Client, secretHash: String?) async throws {
        do {
            try await pool.storageTransaction { connection in
                try connection.query("""
                    INSERT INTO clients (id, name, client_type, auth_method, grant_types, redirect_uris, allowed_scopes,
                        default_scopes, audiences, access_token_format, access_token_ttl_seconds, signing_algorithm,
                        skip_consent, introspect_audiences, jwks, disabled, post_logout_redirect_uris, id_token_signing_algorithm,
                        refresh_idle_ttl_seconds, refresh_absolute_ttl_seconds, refresh_grace_seconds)
                    VALUES (\(client.id), \(client.name), \(client.type.rawValue), \(client.authMethod.rawValue),
                        \(client.grantTypes.map(\.rawValue).sorted()), \(client.redirectURIs), \(client.allowedScopes.tokens.sorted()),
                        \(client.defaultScopes.tokens.sorted()), \(client.audiences), \(client.accessTokenFormat.rawValue),
                        \(client.accessTokenLifetime.map { Int($0) }), \(client.signingAlgorithm.rawValue), \(client.skipsConsent),
                        \(client.introspectableAudiences), \(try Self.encode(client.jwks))::jsonb, \(client.isDisabled),
                        \(client.postLogoutRedirectURIs), \(client.idTokenSigningAlgorithm.rawValue),
                        \(client.refreshIdleLifetime.map { Int($0) }), \(client.refreshAbsoluteLifetime.map { Int($0) }), \(Int(client.refreshGrace)))
                    """)
                if let secretHash {
                    try connection.query("INSERT INTO client_secrets (client_id, secret_hash, created_at) VALUES (\(client.id), \(secretHash), clock_timestamp())")
                }
                try Self.notify(client.id, connection)
            }
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            throw ClientStoreError.alreadyExists(client.id)
        }
    }

    /// Replaces the registration of `client.id` (not its secrets); `updated_at` becomes now.
    public func update(_ client: Client) async throws {
        let changed = try await pool.storageTransaction { connection -> Bool in
            let rows = try connection.query("""
                UPDATE clients SET name = \(client.name), client_type = \(client.type.rawValue), auth_method = \(client.authMethod.rawValue),
                    grant_types = \(client.grantTypes.map(\.rawValue).sorted()), redirect_uris = \(client.redirectURIs),
                    allowed_scopes = \(client.allowedScopes.tokens.sorted()), default_scopes = \(client.defaultScopes.tokens.sorted()),
                    audiences = \(client.audiences), access_token_format = \(client.accessTokenFormat.rawValue),
                    access_token_ttl_seconds = \(client.accessTokenLifetime.map { Int($0) }), signing_algorithm = \(client.signingAlgorithm.rawValue),
                    skip_consent = \(client.skipsConsent), introspect_audiences = \(client.introspectableAudiences),
                    jwks = \(try Self.encode(client.jwks))::jsonb, disabled = \(client.isDisabled),
                    post_logout_redirect_uris = \(client.postLogoutRedirectURIs),
                    id_token_signing_algorithm = \(client.idTokenSigningAlgorithm.rawValue),
                    refresh_idle_ttl_seconds = \(client.refreshIdleLifetime.map { Int($0) }),
                    refresh_absolute_ttl_seconds = \(client.refreshAbsoluteLifetime.map { Int($0) }),
                    refresh_grace_seconds = \(Int(client.refreshGrace)), updated_at = now()
                WHERE id = \(client.id)
                """)
            guard rows.affectedRows == 1 else { return false }
            if client.isDisabled { try PostgresLoginStore.revoke(.client(client.id), reason: "client disabled", connection) }
            try Self.notify(client.id, connection)
            return true
        }
        guard changed else { throw ClientStoreError.notFound(client.id) }
    }

    /// Makes `newHash` the current secret. The previous current secret stays valid for
    /// `oldSecretValidFor` (zero: it stops at once); secrets already in a grace period
    /// keep their earlier end, and expired ones are deleted.
    public func rotateSecret(id: String, newHash: String, oldSecretValidFor: TimeInterval) async throws {
        let grace = max(0, oldSecretValidFor)
        let found = try await pool.storageTransaction { connection -> Bool in
            // Lock the client row so that two rotations of one client serialise.
            guard try connection.query("SELECT 1 FROM clients WHERE id = \(id) FOR UPDATE").count == 1 else { return false }
            try connection.query("""
                UPDATE client_secrets SET expires_at = now() + make_interval(secs => \(grace))
                WHERE client_id = \(id) AND expires_at IS NULL
                """)
            try connection.query("DELETE FROM client_secrets WHERE client_id = \(id) AND expires_at <= now()")
            try connection.query("INSERT INTO client_secrets (client_id, secret_hash, created_at) VALUES (\(id), \(newHash), clock_timestamp())")
            try connection.query("UPDATE clients SET updated_at = now() WHERE id = \(id)")
            try Self.notify(id, connection)
            return true
        }
        guard found else { throw ClientStoreError.notFound(id) }
    }

    public func setDisabled(id: String, _ disabled: Bool) async throws {
        let found = try await pool.storageTransaction { connection -> Bool in
            let rows = try connection.query("UPDATE clients SET disabled = \(disabled), updated_at = now() WHERE id = \(id)")
            guard rows.affectedRows == 1 else { return false }
            // The client's unexpired access tokens stop being active with it, on every instance.
            if disabled { try PostgresLoginStore.revoke(.client(id), reason: "client disabled", connection) }
            try Self.notify(id, connection)
            return true
        }
        guard found else { throw ClientStoreError.notFound(id) }
    }

    /// Deletes the client with its secrets and assertion records; its access tokens stop being active.
    public func delete(id: String) async throws {
        let found = try await pool.storageTransaction { connection -> Bool in
            let rows = try connection.query("DELETE FROM clients WHERE id = \(id)")
            guard rows.affectedRows == 1 else { return false }
            try PostgresLoginStore.revoke(.client(id), reason: "client deleted", connection)
            try Self.notify(id, connection)
            return true
        }
        guard found else { throw ClientStoreError.notFound(id) }
    }

    /// Deletes secrets past their grace period and assertion ids past their expiry.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        try await pool.storageConnection { connection in
            let secrets = try connection.query("DELETE FROM client_secrets WHERE expires_at <= now()")
            let assertions = try connection.query("DELETE FROM client_assertion_ids WHERE expires_at <= now()")
            return secrets.affectedRows + assertions.affectedRows
        }
    }

    // MARK: Rows

    static func notify(_ id: String, _ connection: PostgresConnection) throws {
        try connection.query(.notify(channel, payload: id))
    }

    static func client(id: String, _ connection: PostgresConnection) throws -> Client? {
        try connection.query(PostgresQuery(unsafeSQL: "SELECT \(columns) FROM clients WHERE id = $1", binds: [id.postgresBind]))
            .first.map(decode)
    }

    static func encode(_ jwks: JWKS?) throws -> String? {
        guard let jwks else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(jwks), as: UTF8.self)
    }

    static func decode(_ row: PostgresRow) throws -> Client {
        let id = try row.decode("id", as: String.self)
        func corrupt(_ column: String) -> PostgresError {
            PostgresError(kind: .decoding, message: "client \(id): unreadable \(column)")
        }
        guard let type = Client.ClientType(rawValue: try row.decode("client_type", as: String.self)) else { throw corrupt("client_type") }
        guard let method = Client.AuthMethod(rawValue: try row.decode("auth_method", as: String.self)) else { throw corrupt("auth_method") }
        guard let format = Client.TokenFormat(rawValue: try row.decode("access_token_format", as: String.self)) else { throw corrupt("access_token_format") }
        guard let algorithm = JWSAlgorithm(rawValue: try row.decode("signing_algorithm", as: String.self)) else { throw corrupt("signing_algorithm") }
        guard let idTokenAlgorithm = JWSAlgorithm(rawValue: try row.decode("id_token_signing_algorithm", as: String.self)) else {
            throw corrupt("id_token_signing_algorithm")
        }
        var grants = Set<Client.GrantType>()
        for name in try row.decode("grant_types", as: [String].self) {
            guard let grant = Client.GrantType(rawValue: name) else { throw corrupt("grant_types") }
            grants.insert(grant)
        }
        let jwks = try row.decode("jwks", as: String?.self).map { text in
            do { return try JSONDecoder().decode(JWKS.self, from: Data(text.utf8)) } catch { throw corrupt("jwks") }
        }
        var client = Client(
            id: id, name: try row.decode("name", as: String.self), type: type, authMethod: method, grantTypes: grants,
            redirectURIs: try row.decode("redirect_uris", as: [String].self),
            allowedScopes: Scope(try row.decode("allowed_scopes", as: [String].self)),
            defaultScopes: Scope(try row.decode("default_scopes", as: [String].self)),
            audiences: try row.decode("audiences", as: [String].self), accessTokenFormat: format,
            accessTokenLifetime: try row.decode("access_token_ttl_seconds", as: Int?.self).map { TimeInterval($0) },
            signingAlgorithm: algorithm, idTokenSigningAlgorithm: idTokenAlgorithm,
            postLogoutRedirectURIs: try row.decode("post_logout_redirect_uris", as: [String].self), skipsConsent: try row.decode("skip_consent", as: Bool.self),
            introspectableAudiences: try row.decode("introspect_audiences", as: [String].self), jwks: jwks,
            isDisabled: try row.decode("disabled", as: Bool.self),
            createdAt: try row.decode("created_at", as: Date.self), updatedAt: try row.decode("updated_at", as: Date.self))
        client.refreshIdleLifetime = try row.decode("refresh_idle_ttl_seconds", as: Int?.self).map { TimeInterval($0) }
        client.refreshAbsoluteLifetime = try row.decode("refresh_absolute_ttl_seconds", as: Int?.self).map { TimeInterval($0) }
        client.refreshGrace = TimeInterval(try row.decode("refresh_grace_seconds", as: Int.self))
        return client
    }
}
