import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresFailoverTests {
    @Test("A multi-host URL connects to the first host that answers")
    func multiHostURL() async throws {
        let environment = TestDatabase.environment
        let socket = try #require(environment["TESSERA_TEST_PGSOCK"] ?? environment["PGHOST"])
        let port = environment["PGPORT"] ?? "5432"
        let encoded = try #require(socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        try await withServer { () async throws in
            let url = "postgresql://%2Fnonexistent-\(UInt32.random(in: 0...UInt32.max)):\(port),\(encoded):\(port)/postgres"
                + "?user=postgres&target_session_attrs=read-write"
            let pool = PostgresPool(configuration: try .url(url), size: 1)
            defer { Task { await pool.close() } }
            #expect(try await pool.query("SELECT 1")[0].decode(0, as: Int.self) == 1)
        }
    }

    @Test("A write refused by a read-only server (25006) drops the connection, so that the next one finds the primary")
    func readOnlyServerDropsTheConnection() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            // What a demoted primary answers to a write, on a session that stays connected to it.
            let pid = try await pool.withConnection { connection in
                try connection.query("SET default_transaction_read_only = on")
                return try connection.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            }
            let error = await #expect(throws: PostgresError.self) { try await pool.query("CREATE TEMP TABLE refused (a int)") }
            #expect(error?.sqlState == .readOnlySQLTransaction)
            #expect(error?.isConnectionFailure == true)
            #expect(error?.isUnavailable == true)
            let next = try await pool.withConnection { connection in
                try connection.query("CREATE TEMP TABLE accepted (a int)")
                return try connection.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            }
            #expect(next != pid)
        }
    }
}
