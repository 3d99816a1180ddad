import Foundation

/// Applies the `NNNN_verb_object.sql` files of a directory, in order, once each.
///
/// Applied migrations are recorded in `schema_migrations` (in the first schema of the
/// search path). A run holds a session advisory lock on one connection throughout, so
/// instances starting together take turns: the later ones find everything applied.
public struct Migrator: Sendable {
    public let directory: String
    /// The checksum recorded for each applied file (hex SHA-256 in Tessera), given by the caller:
    /// this module links libpq only, and the one SHA-256 of the project is JOSE's (OpenSSL).
    public let checksum: @Sendable ([UInt8]) -> String

    /// The advisory lock key every Tessera migrator uses ("TESSERA1" in ASCII).
    static let advisoryLockKey: Int64 = 0x5445_5353_4552_4131

    static let createTableSQL = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    public init(directory: String, checksum: @escaping @Sendable ([UInt8]) -> String) {
        self.directory = directory
        self.checksum = checksum
    }

    /// Reads and validates the migration files, without touching the database.
    ///
    /// Files not ending in `.sql` (and hidden files) are ignored.
    public func migrations() throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw MigrationError.unreadable(path: directory, reason: error.localizedDescription)
        }
        var byVersion: [Int: Migration] = [:]
        for fileName in names.sorted() where fileName.hasSuffix(".sql") && !fileName.hasPrefix(".") {
            guard let (version, name) = Self.parse(fileName: fileName) else {
                throw MigrationError.invalidFileName(fileName)
            }
            let path = (directory as NSString).appendingPathComponent(fileName)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MigrationError.unreadable(path: path, reason: "the file could not be read")
            }
            let bytes = [UInt8](data)
            guard let sql = String(bytes: bytes, encoding: .utf8) else {
                throw MigrationError.unreadable(path: path, reason: "the file is not UTF-8")
            }
            guard byVersion[version] == nil else {
                throw MigrationError.duplicateVersion(version)
            }
            byVersion[version] = Migration(version: version, name: name, checksum: checksum(bytes), sql: sql)
        }
        return byVersion.values.sorted { $0.version < $1.version }
    }

    /// The migrations not yet applied, after checking the applied ones against their files.
    public func pending(using pool: PostgresPool) async throws -> [Migration] {
        let migrator = self
        return try await pool.withConnection { connection in
            let files = try migrator.migrations()
            let applied = try Self.appliedMigrations(connection, createTable: false)
            return try Self.plan(files: files, applied: applied)
        }
    }

    /// Applies every pending migration, each in its own transaction with its
    /// `schema_migrations` row, and returns those applied by this call.
    ///
    /// Before applying anything it checks every applied migration against its file and
    /// refuses (applying nothing) if one was edited, renamed or removed.
    @discardableResult
    public func migrate(using pool: PostgresPool) async throws -> [Migration] {
        let migrator = self
        // A long wait for another instance's run is expected here, not pool exhaustion.
        return try await pool.withConnection(acquireTimeout: .seconds(60)) { connection in
            // DDL and the wait for another instance's run may rightly take long: no timeouts here.
            try connection.withoutTimeouts { connection in
                let files = try migrator.migrations()
                try connection.query("SELECT pg_advisory_lock(\(Self.advisoryLockKey))")
                defer {
                    // Also released by the server if the session ends first.
                    _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.advisoryLockKey))")
                }
                let applied = try Self.appliedMigrations(connection, createTable: true)
                let pending = try Self.plan(files: files, applied: applied)
                for migration in pending {
                    do {
                        try connection.transaction { connection in
                            try connection.executeScript(unsafeSQL: migration.sql)
                            try connection.query(
                                """
                                INSERT INTO schema_migrations (version, name, checksum) \
                                VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                                """)
                        }
                    } catch let error as PostgresError {
                        throw MigrationError.failed(version: migration.version, name: migration.name, error: error)
                    }
                }
                return pending
            }
        }
    }

    // MARK: - Private

    private struct AppliedMigration {
        let version: Int
        let name: String
        let checksum: String
    }

    /// `NNNN_verb_object.sql`: four digits, then at least two lower-case words.
    static func parse(fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        let parts = stem.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].count == 4, parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            let version = Int(parts[0])
        else { return nil }
        let words = parts.dropFirst()
        let isWord: (Substring) -> Bool = { word in
            !word.isEmpty && word.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        }
        guard words.allSatisfy(isWord) else { return nil }
        return (version, words.joined(separator: "_"))
    }

    private static func appliedMigrations(_ connection: PostgresConnection, createTable: Bool) throws -> [AppliedMigration] {
        if createTable {
            try connection.executeScript(unsafeSQL: createTableSQL)
        } else {
            let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
            guard let row = exists.first, try row.decode(0, as: Bool.self) else { return [] }
        }
        return try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version").map { row in
            AppliedMigration(
                version: try row.decode(0), name: try row.decode(1), checksum: try row.decode(2))
        }
    }

    private static func plan(files: [Migration], applied: [AppliedMigration]) throws -> [Migration] {
        let filesByVersion = Dictionary(uniqueKeysWithValues: files.map { ($0.version, $0) })
        for record in applied {
            guard let file = filesByVersion[record.version] else {
                throw MigrationError.missingFile(version: record.version, name: record.name)
            }
            guard file.name == record.name else {
                throw MigrationError.renamed(version: record.version, appliedName: record.name, fileName: file.fileName)
            }
            guard file.checksum == record.checksum else {
                throw MigrationError.checksumMismatch(
                    version: record.version, name: record.name, expected: record.checksum, found: file.checksum)
            }
        }
        let appliedVersions = Set(applied.map(\.version))
        let pending = files.filter { !appliedVersions.contains($0.version) }
        if let latest = applied.map(\.version).max(), let early = pending.first(where: { $0.version < latest }) {
            throw MigrationError.outOfOrder(version: early.version, name: early.name, latestApplied: latest)
        }
        return pending
    }
}
