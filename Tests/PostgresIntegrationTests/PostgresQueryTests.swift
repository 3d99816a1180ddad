import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresQueryTests {
    @Test("Interpolated values become numbered binds, never SQL text")
    func interpolationMakesBinds() {
        let name = "x'; DROP TABLE users; --"
        let query: PostgresQuery = "SELECT * FROM users WHERE name = \(name) AND age > \(21) AND tag = \(name)"
        #expect(query.sql == "SELECT * FROM users WHERE name = $1 AND age > $2 AND tag = $3")
        #expect(query.binds.count == 3)
        #expect(query.binds[0].bytes == Array(name.utf8))
        #expect(query.binds[1].dataType == .int8)
        #expect(!query.description.contains("DROP"))
    }

    @Test("SQL injection strings stay data")
    func injectionStaysData() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("query"), size: 1)
            defer { Task { await pool.close() } }
            try await pool.query("CREATE TABLE users (name text PRIMARY KEY)")
            let hostile = [
                "x'); DROP TABLE users; --", "' OR '1'='1", "$1", "\\'; SELECT pg_sleep(10); --", "E'\\x00'",
            ]
            for name in hostile {
                try await pool.query("INSERT INTO users (name) VALUES (\(name))")
            }
            let rows = try await pool.query("SELECT name FROM users WHERE name = \("' OR '1'='1")")
            #expect(try rows.map { try $0.decode(0, as: String.self) } == ["' OR '1'='1"])
            let all = try await pool.query("SELECT count(*) FROM users")
            #expect(try all[0].decode(0, as: Int.self) == hostile.count)
        }
    }

    @Test("Server errors carry their SQLSTATE, constraint and detail")
    func sqlStateMapping() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("query"), size: 1)
            defer { Task { await pool.close() } }
            try await pool.query("CREATE TABLE clients (id text CONSTRAINT clients_pkey PRIMARY KEY, secret text NOT NULL)")
            try await pool.query("INSERT INTO clients VALUES (\("a"), \("s"))")
            let duplicate = await #expect(throws: PostgresError.self) {
                try await pool.query("INSERT INTO clients VALUES (\("a"), \("s"))")
            }
            #expect(duplicate?.kind == .server)
            #expect(duplicate?.sqlState == .uniqueViolation)
            #expect(duplicate?.constraint == "clients_pkey")
            #expect(duplicate?.detail?.contains("already exists") == true)
            #expect(duplicate?.isConnectionFailure == false)
            let nullSecret: String? = nil
            let notNull = await #expect(throws: PostgresError.self) {
                try await pool.query("INSERT INTO clients VALUES (\("b"), \(nullSecret))")
            }
            #expect(notNull?.sqlState == .notNullViolation)
            let undefined = await #expect(throws: PostgresError.self) { try await pool.query("SELECT * FROM nowhere") }
            #expect(undefined?.sqlState == .undefinedTable)
            // The connection is still usable after errors.
            #expect(try await pool.query("SELECT count(*) FROM clients")[0].decode(0, as: Int.self) == 1)
        }
    }

    @Test("SQLSTATE classes: connection failures are class 08 and 57P0x")
    func sqlStateClasses() {
        #expect(SQLState(rawValue: "08006").isConnectionFailure)
        #expect(SQLState.adminShutdown.isConnectionFailure)
        #expect(SQLState.crashShutdown.isConnectionFailure)
        #expect(SQLState.cannotConnectNow.isConnectionFailure)
        #expect(!SQLState.uniqueViolation.isConnectionFailure)
        #expect(!SQLState.queryCanceled.isConnectionFailure)
        #expect(PostgresError(kind: .server, sqlState: .adminShutdown, message: "bye").isConnectionFailure)
    }

    @Test("URLs: postgres:// and postgresql:// accepted, anything else refused clearly")
    func urls() throws {
        _ = try PostgresConfiguration.url("postgres://user:pw@localhost:5432/db?sslmode=disable")
        _ = try PostgresConfiguration.url("postgresql:///tessera?host=/tmp")
        let wrongScheme = #expect(throws: PostgresError.self) { try PostgresConfiguration.url("mysql://localhost/db") }
        #expect(wrongScheme?.message.contains("postgres://") == true)
        let badQuery = #expect(throws: PostgresError.self) {
            try PostgresConfiguration.url("postgresql://localhost/db?nonsense_option=1")
        }
        #expect(badQuery?.message.contains("invalid PostgreSQL URL") == true)
    }

    @Test("A URL with the test socket connects, and the search path may contain spaces and quotes")
    func urlConnects() async throws {
        try await withServer { () async throws in
            let environment = TestDatabase.environment
            let host = environment["PGHOST"] ?? ""
            let encodedHost = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? host
            var configuration = try PostgresConfiguration.url(
                "postgresql://\(environment["PGUSER"] ?? "postgres")@/\(environment["PGDATABASE"] ?? "postgres")?host=\(encodedHost)&port=\(environment["PGPORT"] ?? "5432")")
            configuration.applicationName = "tessera tests"
            configuration.searchPath = "\"odd schema\", public"
            let pool = PostgresPool(configuration: configuration, size: 1)
            defer { Task { await pool.close() } }
            let rows = try await pool.query("SELECT current_setting('application_name'), current_setting('search_path')")
            #expect(try rows[0].decode(0, as: String.self) == "tessera tests")
            #expect(try rows[0].decode(1, as: String.self) == "\"odd schema\", public")
        }
    }

    @Test("A database that is down fails fast with a connection error")
    func downDatabaseFailsFast() async throws {
        var configuration = try PostgresConfiguration.url("postgresql://127.0.0.1:1/none")
        configuration.connectTimeoutSeconds = 2
        let pool = PostgresPool(configuration: configuration, size: 1)
        let start = ContinuousClock.now
        let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
        #expect(error?.kind == .connection)
        #expect(error?.isConnectionFailure == true)
        // A refused connection must not hang; the bound is loose because the suites run in
        // parallel on two shared cores (speed itself is measured by benchmarks, not here).
        #expect(ContinuousClock.now - start < .seconds(20))
        #expect(await pool.ping() == false)
        await pool.close()
    }

    @Test("Empty queries and multi-statement scripts run")
    func scripts() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("query"), size: 1)
            defer { Task { await pool.close() } }
            try await pool.withConnection { connection in
                try connection.executeScript(unsafeSQL: "CREATE TABLE a (x int); INSERT INTO a VALUES (1), (2); CREATE TABLE b (y int);")
                #expect(try connection.query("").count == 0)
                let updated = try connection.query("UPDATE a SET x = x + \(10)")
                #expect(updated.affectedRows == 2)
                #expect(throws: PostgresError.self) { try connection.executeScript(unsafeSQL: "SELECT 1; SELECT nope;") }
                #expect(connection.isHealthy)
            }
        }
    }
}
