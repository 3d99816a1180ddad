import Foundation
import JOSE
import Postgres
import Testing

/// A temporary directory of migration files.
struct MigrationDirectory {
    let path: String

    init(_ files: [String: String]) throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-migrations-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, sql) in files {
            try write(name, sql)
        }
    }

    func write(_ name: String, _ sql: String) throws {
        try Data(sql.utf8).write(to: URL(fileURLWithPath: path).appendingPathComponent(name))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct MigratorTests {
    static let files = [
        "0001_create_signing_keys.sql": "CREATE TABLE signing_keys (kid text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());",
        "0002_create_clients.sql": """
            CREATE TABLE clients (id text PRIMARY KEY, name text NOT NULL);
            -- several statements in one file
            CREATE INDEX clients_name ON clients (name);
            """,
        "0010_add_clients_secret.sql": "ALTER TABLE clients ADD COLUMN secret_hash text; SELECT pg_sleep(0.2);",
        "README.md": "not a migration",
    ]

    @Test("Migrations apply in order, each recorded with its checksum; a second run applies nothing")
    func appliesInOrderOnce() async throws {
        try await withServer { () async throws in
            let directory = try MigrationDirectory(Self.files)
            defer { directory.remove() }
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("migrate"), size: 2)
            defer { Task { await pool.close() } }
            let migrator = Migrator(directory: directory.path, checksum: SHA256.hexDigest)
            #expect(try await migrator.pending(using: pool).map(\.version) == [1, 2, 10])
            let applied = try await migrator.migrate(using: pool)
            #expect(applied.map(\.version) == [1, 2, 10])
            #expect(applied.map(\.name) == ["create_signing_keys", "create_clients", "add_clients_secret"])
            #expect(applied[1].fileName == "0002_create_clients.sql")
            let rows = try await pool.query("SELECT version, name, checksum, encode(sha256(\(Array(Self.files["0002_create_clients.sql"]!.utf8))), 'hex') FROM schema_migrations ORDER BY version")
            #expect(try rows.map { try $0.decode(0, as: Int.self) } == [1, 2, 10])
            #expect(try rows[1].decode(2, as: String.self) == rows[1].decode(3, as: String.self), "checksum is SHA-256 of the file")
            #expect(try rows[1].decode(2, as: String.self) == applied[1].checksum)
            try await pool.query("INSERT INTO clients (id, name, secret_hash) VALUES (\("c"), \("n"), \("h"))")

            #expect(try await migrator.migrate(using: pool).isEmpty)
            #expect(try await migrator.pending(using: pool).isEmpty)

            try directory.write("0011_create_users.sql", "CREATE TABLE users (id uuid PRIMARY KEY);")
            #expect(try await migrator.migrate(using: pool).map(\.version) == [11])
        }
    }

    @Test("A migration edited after it was applied is refused and nothing is applied")
    func editedMigrationRefused() async throws {
        try await withServer { () async throws in
            let directory = try MigrationDirectory(Self.files)
            defer { directory.remove() }
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("migrate"), size: 1)
            defer { Task { await pool.close() } }
            let migrator = Migrator(directory: directory.path, checksum: SHA256.hexDigest)
            try await migrator.migrate(using: pool)
            try directory.write("0002_create_clients.sql", "CREATE TABLE clients (id text PRIMARY KEY);")
            try directory.write("0020_create_users.sql", "CREATE TABLE users (id uuid PRIMARY KEY);")
            let error = await #expect(throws: MigrationError.self) { try await migrator.migrate(using: pool) }
            guard case .checksumMismatch(let version, let name, _, _)? = error else {
                Issue.record("expected checksumMismatch, got \(String(describing: error))")
                return
            }
            #expect(version == 2 && name == "create_clients")
            #expect(error?.description.contains("0002_create_clients.sql was edited after it was applied") == true)
            #expect(error?.description.contains("write a new migration instead") == true)
            let users = try await pool.query("SELECT to_regclass('users') IS NULL")
            #expect(try users[0].decode(0, as: Bool.self), "the new migration was not applied")
            await #expect(throws: MigrationError.self) { try await migrator.pending(using: pool) }
        }
    }

    @Test("Bad file names and duplicate numbers are refused", arguments: [
        "0003_clients.sql", "3_create_clients.sql", "0003_Create_Clients.sql", "0003-create-clients.sql",
        "00003_create_clients.sql", "0003_create__clients.sql", "create_clients.sql",
    ])
    func badFileNames(name: String) async throws {
        let directory = try MigrationDirectory(Self.files.merging([name: "SELECT 1;"]) { $1 })
        defer { directory.remove() }
        let error = #expect(throws: MigrationError.self) { try Migrator(directory: directory.path, checksum: SHA256.hexDigest).migrations() }
        guard case .invalidFileName(let reported)? = error else {
            Issue.record("expected invalidFileName, got \(String(describing: error))")
            return
        }
        #expect(reported == name)
        #expect(error?.description.contains("NNNN_verb_object.sql") == true)
    }

    @Test("Two files with one number are refused")
    func duplicateVersion() throws {
        let directory = try MigrationDirectory(Self.files.merging(["0002_create_users.sql": "SELECT 1;"]) { $1 })
        defer { directory.remove() }
        let error = #expect(throws: MigrationError.self) { try Migrator(directory: directory.path, checksum: SHA256.hexDigest).migrations() }
        guard case .duplicateVersion(2)? = error else {
            Issue.record("expected duplicateVersion(2), got \(String(describing: error))")
            return
        }
    }

    @Test("A failing migration is rolled back with its record; earlier ones stay applied")
    func failingMigration() async throws {
        try await withServer { () async throws in
            let directory = try MigrationDirectory([
                "0001_create_keys.sql": "CREATE TABLE keys (id int);",
                "0002_break_everything.sql": "CREATE TABLE half (id int); SELECT * FROM does_not_exist;",
            ])
            defer { directory.remove() }
            let pool = PostgresPool(configuration: try await TestDatabase.freshSchema("migrate"), size: 1)
            defer { Task { await pool.close() } }
            let error = await #expect(throws: MigrationError.self) { try await Migrator(directory: directory.path, checksum: SHA256.hexDigest).migrate(using: pool) }
            guard case .failed(let version, _, let underlying)? = error else {
                Issue.record("expected failed, got \(String(describing: error))")
                return
            }
            #expect(version == 2)
            #expect(underlying.sqlState == .undefinedTable)
            let state = try await pool.query("SELECT to_regclass('half') IS NULL, (SELECT array_agg(version)::text FROM schema_migrations)")
            #expect(try state[0].decode(0, as: Bool.self))
            #expect(try state[0].decode(1, as: String.self) == "{1}")
        }
    }

    @Test("Four instances migrating at once apply each migration exactly once")
    func concurrentMigrators() async throws {
        try await withServer { () async throws in
            let directory = try MigrationDirectory(Self.files)
            defer { directory.remove() }
            let configuration = try await TestDatabase.freshSchema("migrate")
            let pools = (0..<4).map { _ in PostgresPool(configuration: configuration, size: 1) }
            defer { Task { for pool in pools { await pool.close() } } }
            let counts = try await withThrowingTaskGroup(of: [Int].self) { group in
                for pool in pools {
                    group.addTask { try await Migrator(directory: directory.path, checksum: SHA256.hexDigest).migrate(using: pool).map(\.version) }
                }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            #expect(counts.flatMap { $0 }.sorted() == [1, 2, 10])
            #expect(counts.filter { !$0.isEmpty }.count == 1, "one instance applied everything, the others waited and found nothing to do")
            let rows = try await pools[0].query("SELECT count(*) FROM schema_migrations")
            #expect(try rows[0].decode(0, as: Int.self) == 3)
        }
    }
}
