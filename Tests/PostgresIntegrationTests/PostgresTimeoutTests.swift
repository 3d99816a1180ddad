import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresTimeoutTests {
    /// The test cluster's configuration with the given bounds.
    static func configuration(
        statement: Duration? = nil, lock: Duration? = nil, response: Duration? = nil, cancelGrace: Duration = .seconds(2),
        pooler: Bool = false
    ) -> PostgresConfiguration {
        var configuration = PostgresConfiguration.environment()
        configuration.statementTimeout = statement
        configuration.lockTimeout = lock
        configuration.responseTimeout = response
        configuration.cancelGrace = cancelGrace
        configuration.isBehindTransactionPooler = pooler
        return configuration
    }

    @Test("The statement and lock timeouts are session settings from the startup packet")
    func startupSettings() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: Self.configuration(statement: .milliseconds(1_500), lock: .milliseconds(700)), size: 1)
            defer { Task { await pool.close() } }
            let rows = try await pool.query("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
            #expect(try rows[0].decode(0, as: String.self) == "1500ms")
            #expect(try rows[0].decode(1, as: String.self) == "700ms")
        }
    }

    @Test("A statement longer than statement_timeout ends as .timedOut (57014) and its connection serves the next")
    func statementTimeout() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: Self.configuration(statement: .milliseconds(300)), size: 1)
            defer { Task { await pool.close() } }
            let pid = try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_sleep(30)") }
            #expect(error?.kind == .timedOut)
            #expect(error?.sqlState == .queryCanceled)
            #expect(error?.isUnavailable == true)
            #expect(try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self) == pid)
        }
    }

    @Test("A lock wait longer than lock_timeout ends as .timedOut (55P03)")
    func lockTimeout() async throws {
        try await withServer { () async throws in
            let key = Int64.random(in: 1...Int64.max)
            let holder = PostgresPool(configuration: .environment(), size: 1)
            let pool = PostgresPool(configuration: Self.configuration(statement: .seconds(30), lock: .milliseconds(300)), size: 1)
            defer { Task { await pool.close(); await holder.close() } }
            // A session-level advisory lock stays with the holder's connection until unlocked.
            try await holder.query("SELECT pg_advisory_lock(\(key))")
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_advisory_lock(\(key))") }
            #expect(error?.kind == .timedOut)
            #expect(error?.sqlState == .lockNotAvailable)
            try await holder.query("SELECT pg_advisory_unlock(\(key))")
            #expect(try await pool.query("SELECT pg_try_advisory_lock(\(key))")[0].decode(0, as: Bool.self))
        }
    }

    @Test("Past the client-side deadline the statement is cancelled and the connection stays usable")
    func clientDeadlineCancels() async throws {
        try await withServer { () async throws in
            // No server-side timeout: only the client's own deadline can end the wait.
            let pool = PostgresPool(configuration: Self.configuration(response: .milliseconds(400)), size: 1)
            defer { Task { await pool.close() } }
            let pid = try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_sleep(30)") }
            #expect(error?.kind == .timedOut)
            #expect(error?.sqlState == .queryCanceled)
            #expect(error?.message.contains("no answer within") == true)
            #expect(try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self) == pid)
            // Inside a transaction too: the body's error rolls it back and the connection is reused.
            let inTransaction = await #expect(throws: PostgresError.self) {
                try await pool.transaction { connection in try connection.query("SELECT pg_sleep(30)") }
            }
            #expect(inTransaction?.kind == .timedOut)
            #expect(try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self) == pid)
        }
    }

    @Test("A server that answers neither the statement nor the cancel loses the connection, and the pool opens another")
    func silentServerIsDropped() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: Self.configuration(response: .milliseconds(300), cancelGrace: .milliseconds(300)), size: 1)
            defer { Task { await pool.close() } }
            let pid = try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            // A stopped backend reads nothing and answers nothing, like a server behind a dead link.
            #expect(kill(pid, SIGSTOP) == 0)
            let start = ContinuousClock.now
            let error: PostgresError?
            do {
                error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            }
            let waited = ContinuousClock.now - start
            kill(pid, SIGCONT)
            #expect(error?.kind == .timedOut)
            #expect(error?.message.contains("dropped") == true)
            #expect(waited < .seconds(10))
            let (newPID, _) = try await eventually(attempts: 5) {
                try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            }
            #expect(newPID != pid)
        }
    }

    @Test("Behind a transaction pooler nothing is set on the session; each transaction sets its own timeouts")
    func poolerSetsTimeoutsPerTransaction() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(
                configuration: Self.configuration(statement: .milliseconds(1_500), lock: .milliseconds(700), pooler: true), size: 1)
            defer { Task { await pool.close() } }
            let session = try await pool.query("SELECT current_setting('statement_timeout'), current_setting('application_name')")
            #expect(try session[0].decode(0, as: String.self) == "0", "no startup options through a pooler")
            #expect(try session[0].decode(1, as: String.self) == "tessera")
            let inside = try await pool.transaction { connection in
                let rows = try connection.query("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
                return [try rows[0].decode(0, as: String.self), try rows[0].decode(1, as: String.self)]
            }
            #expect(inside == ["1500ms", "700ms"])
            let after = try await pool.query("SELECT current_setting('statement_timeout')")
            #expect(try after[0].decode(0, as: String.self) == "0", "SET LOCAL ends with its transaction")
            let error = await #expect(throws: PostgresError.self) {
                try await pool.transaction { connection in try connection.query("SELECT pg_sleep(30)") }
            }
            #expect(error?.kind == .timedOut)
            #expect(error?.sqlState == .queryCanceled)
        }
    }

    @Test("A search_path cannot be asked of a transaction pooler")
    func poolerRefusesSearchPath() {
        var configuration = Self.configuration(pooler: true)
        configuration.searchPath = "elsewhere"
        #expect(throws: PostgresError.self) { try PostgresConnection.connect(configuration) }
    }

    @Test("withoutTimeouts lifts every bound for its body and restores the session's afterwards")
    func withoutTimeouts() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: Self.configuration(statement: .milliseconds(300), response: .milliseconds(500)), size: 1)
            defer { Task { await pool.close() } }
            let settings = try await pool.withConnection { connection in
                let inside = try connection.withoutTimeouts { connection in
                    try connection.query("SELECT pg_sleep(0.8)")
                    return try connection.query("SELECT current_setting('statement_timeout')")[0].decode(0, as: String.self)
                }
                let after = try connection.query("SELECT current_setting('statement_timeout')")[0].decode(0, as: String.self)
                return [inside, after]
            }
            #expect(settings == ["0", "300ms"])
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT pg_sleep(30)") }
            #expect(error?.kind == .timedOut)
        }
    }

    @Test("withTimeouts lengthens the bounds of one wait inside a transaction and gives the rest of it the usual ones", arguments: [false, true])
    func longerBoundsForOneWait(pooler: Bool) async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: Self.configuration(statement: .milliseconds(300), lock: .milliseconds(200), pooler: pooler), size: 1)
            defer { Task { await pool.close() } }
            let settings = try await pool.transaction { connection in
                let inside = try connection.withTimeouts(statement: .seconds(5), lock: .seconds(4)) { connection in
                    // Longer than both the statement timeout and the client deadline of the session.
                    try connection.query("SELECT pg_sleep(0.8)")
                    return try connection.query("SELECT current_setting('statement_timeout')")[0].decode(0, as: String.self)
                }
                let after = try connection.query("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")
                return [inside, try after[0].decode(0, as: String.self), try after[0].decode(1, as: String.self)]
            }
            #expect(settings == ["5s", "300ms", "200ms"])
            let outside = await #expect(throws: PostgresError.self) {
                try await pool.withConnection { connection in try connection.withTimeouts(statement: .seconds(5), lock: .seconds(5)) { _ in } }
            }
            #expect(outside?.kind == .protocolViolation)
        }
    }
}
