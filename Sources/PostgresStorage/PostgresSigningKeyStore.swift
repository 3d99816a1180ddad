import Foundation
import JOSE
import OAuth
import Postgres

/// ``SigningKeyStore`` on PostgreSQL: the `signing_keys` table, changed under a
/// transaction-scoped advisory lock, with a `NOTIFY` on the `tessera_keys` channel
/// so that every instance reloads.
public struct PostgresSigningKeyStore: SigningKeyStore {
    public let pool: PostgresPool

    /// The channel instances listen on for key changes.
    public static let channel = "tessera_keys"
    /// Advisory lock id serialising key changes across instances ("tessera keys").
    static let lockKey = AdvisoryLock.key("tessera keys")

    public init(pool: PostgresPool) { self.pool = pool }

    public func keys() async throws -> [SigningKeyRecord] {
        try await pool.storageConnection { connection in try Self.read(connection) }
    }

    @discardableResult
    public func update(_ decide: @escaping @Sendable ([SigningKeyRecord]) throws -> [SigningKeyChange]) async throws -> Bool {
        try await pool.storageTransaction { connection in
            // The holder may be another instance generating keys, which takes a while on a busy machine.
            try connection.withTimeouts(statement: .seconds(60), lock: .seconds(60)) { connection in
                try connection.query(PostgresQuery(unsafeSQL: "SELECT pg_advisory_xact_lock(\(Self.lockKey))"))
            }
            let changes = try decide(try Self.read(connection))
            for change in changes {
                try Self.apply(change, connection)
            }
            if !changes.isEmpty {
                try connection.query(.notify(Self.channel, payload: "changed"))
            }
            return !changes.isEmpty
        }
    }

    static func read(_ connection: PostgresConnection) throws -> [SigningKeyRecord] {
        let rows = try connection.query("""
            SELECT kid, algorithm, state, public_jwk::text AS jwk, sealed_private_key, kek_id,
                   created_at, activated_at, retired_at, unpublish_after
            FROM signing_keys ORDER BY created_at, kid
            """)
        return try rows.map { row in
            let kid = try row.decode("kid", as: String.self)
            guard let algorithm = JWSAlgorithm(rawValue: try row.decode("algorithm", as: String.self)),
                  let state = SigningKeyState(rawValue: try row.decode("state", as: String.self)) else {
                throw KeyLifecycleError.corrupt(kid: kid)
            }
            let jwk = try JSONDecoder().decode(JWK.self, from: Data(try row.decode("jwk", as: String.self).utf8))
            return SigningKeyRecord(
                kid: kid, algorithm: algorithm, state: state, publicJWK: jwk,
                sealedPrivateKey: try row.decode("sealed_private_key", as: [UInt8].self),
                kekID: try row.decode("kek_id", as: String.self),
                createdAt: try row.decode("created_at", as: Date.self),
                activatedAt: try row.decode("activated_at", as: Date?.self),
                retiredAt: try row.decode("retired_at", as: Date?.self),
                unpublishAfter: try row.decode("unpublish_after", as: Date?.self))
        }
    }

    static func apply(_ change: SigningKeyChange, _ connection: PostgresConnection) throws {
        switch change {
        case .insert(let key):
            let jwk = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
            try connection.query("""
                INSERT INTO signing_keys (kid, algorithm, state, public_jwk, sealed_private_key, kek_id, created_at, activated_at)
                VALUES (\(key.kid), \(key.algorithm.rawValue), \(key.state.rawValue), \(jwk)::jsonb, \(key.sealedPrivateKey),
                        \(key.kekID), \(key.createdAt), \(key.activatedAt))
                """)
        case .activate(let kid, let at):
            try connection.query("UPDATE signing_keys SET state = 'active', activated_at = \(at) WHERE kid = \(kid)")
        case .retire(let kid, let at, let until):
            try connection.query("""
                UPDATE signing_keys SET state = 'retired', retired_at = \(at), unpublish_after = \(until) WHERE kid = \(kid)
                """)
        case .delete(let kid):
            try connection.query("DELETE FROM signing_keys WHERE kid = \(kid)")
        }
    }
}
