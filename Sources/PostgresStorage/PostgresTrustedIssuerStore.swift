import Foundation
import JOSE
import OAuth
import Postgres

/// What can go wrong when changing a trusted issuer.
public enum TrustedIssuerStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyExists(String)
    case notFound(String)

    public var description: String {
        switch self {
        case .alreadyExists(let issuer): return "the issuer '\(issuer)' is already registered"
        case .notFound(let issuer): return "no trusted issuer '\(issuer)'"
        }
    }
}

/// Trusted external issuers in PostgreSQL (`trusted_issuers`). Every change sends
/// `NOTIFY tessera_issuers` with the issuer, so that every instance reloads them at once.
public struct PostgresTrustedIssuerStore: TrustedIssuerStore {
    public let pool: PostgresPool

    /// The channel instances listen on for issuer changes; the payload is the issuer.
    public static let channel = "tessera_issuers"

    public init(pool: PostgresPool) { self.pool = pool }

    static let columns = "issuer, jwks::text AS jwks, jwks_uri, audiences, subject_prefix, created_at, updated_at"

    public func trustedIssuers() async throws -> [TrustedIssuerRegistration] {
        try await pool.storageConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM trusted_issuers ORDER BY issuer")).map(Self.decode)
        }
    }

    public func trustedIssuer(_ issuer: String) async throws -> TrustedIssuerRegistration? {
        try await pool.storageConnection { connection in
            try connection.query(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM trusted_issuers WHERE issuer = $1", binds: [issuer.postgresBind]))
                .first.map(Self.decode)
        }
    }

    public func create(_ registration: TrustedIssuerRegistration) async throws {
        do {
            try await pool.storageTransaction { connection in
                try connection.query("""
                    INSERT INTO trusted_issuers (issuer, jwks, jwks_uri, audiences, subject_prefix)
                    VALUES (\(registration.issuer), \(try PostgresClientStore.encode(registration.jwks))::jsonb, \(registration.jwksURI),
                        \(registration.audiences), \(registration.subjectPrefix))
                    """)
                try connection.query(.notify(Self.channel, payload: registration.issuer))
            }
        } catch let error as PostgresError where error.sqlState == .uniqueViolation {
            throw TrustedIssuerStoreError.alreadyExists(registration.issuer)
        }
    }

    public func update(_ registration: TrustedIssuerRegistration) async throws {
        let found = try await pool.storageTransaction { connection -> Bool in
            let rows = try connection.query("""
                UPDATE trusted_issuers SET jwks = \(try PostgresClientStore.encode(registration.jwks))::jsonb, jwks_uri = \(registration.jwksURI),
                    audiences = \(registration.audiences), subject_prefix = \(registration.subjectPrefix), updated_at = now()
                WHERE issuer = \(registration.issuer)
                """)
            guard rows.affectedRows == 1 else { return false }
            try connection.query(.notify(Self.channel, payload: registration.issuer))
            return true
        }
        guard found else { throw TrustedIssuerStoreError.notFound(registration.issuer) }
    }

    /// Removes the issuer: its tokens stop being accepted for exchange at once, on every instance.
    public func delete(_ issuer: String) async throws {
        let found = try await pool.storageTransaction { connection -> Bool in
            guard try connection.query("DELETE FROM trusted_issuers WHERE issuer = \(issuer)").affectedRows == 1 else { return false }
            try connection.query(.notify(Self.channel, payload: issuer))
            return true
        }
        guard found else { throw TrustedIssuerStoreError.notFound(issuer) }
    }

    static func decode(_ row: PostgresRow) throws -> TrustedIssuerRegistration {
        let issuer = try row.decode("issuer", as: String.self)
        let jwks = try row.decode("jwks", as: String?.self).map { text in
            do { return try JSONDecoder().decode(JWKS.self, from: Data(text.utf8)) } catch {
                throw PostgresError(kind: .decoding, message: "trusted issuer \(issuer): unreadable jwks")
            }
        }
        return TrustedIssuerRegistration(
            issuer: issuer, jwks: jwks, jwksURI: try row.decode("jwks_uri", as: String?.self), audiences: try row.decode("audiences", as: [String].self),
            subjectPrefix: try row.decode("subject_prefix", as: String.self), createdAt: try row.decode("created_at", as: Date.self),
            updatedAt: try row.decode("updated_at", as: Date.self))
    }
}
