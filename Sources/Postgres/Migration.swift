/// One forward-only schema migration: a file `NNNN_verb_object.sql`.
public struct Migration: Sendable, Hashable {
    /// The number in the file name (`2` for `0002_create_clients.sql`).
    public let version: Int
    /// The words after the number (`create_clients`).
    public let name: String
    /// SHA-256 of the file's bytes, lower-case hex.
    public let checksum: String
    /// The SQL to run.
    let sql: String

    init(version: Int, name: String, checksum: String, sql: String) {
        self.version = version
        self.name = name
        self.checksum = checksum
        self.sql = sql
    }

    /// The file name, `0002_create_clients.sql`.
    public var fileName: String {
        Self.fileName(version: version, name: name)
    }

    static func fileName(version: Int, name: String) -> String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "_" + name + ".sql"
    }
}

/// Why migrations were refused. Nothing is applied when any of these is thrown before the
/// first migration runs; `failed` rolls back the failing migration only.
public enum MigrationError: Error, CustomStringConvertible {
    /// A `.sql` file whose name is not `NNNN_verb_object.sql`.
    case invalidFileName(String)
    /// Two files share a version number.
    case duplicateVersion(Int)
    /// An applied migration's file changed since it was applied.
    case checksumMismatch(version: Int, name: String, expected: String, found: String)
    /// An applied migration has no file any more.
    case missingFile(version: Int, name: String)
    /// An applied migration's file now has another name.
    case renamed(version: Int, appliedName: String, fileName: String)
    /// A new file is numbered below a migration that is already applied.
    case outOfOrder(version: Int, name: String, latestApplied: Int)
    /// The directory or a file could not be read, or a file is not UTF-8.
    case unreadable(path: String, reason: String)
    /// A migration's SQL failed; it was rolled back (earlier migrations of the run stay applied).
    case failed(version: Int, name: String, error: PostgresError)

    public var description: String {
        switch self {
        case .invalidFileName(let file):
            return "migration file name \"\(file)\" is invalid: expected NNNN_verb_object.sql (four digits, then lower-case words joined by underscores, e.g. 0001_create_signing_keys.sql)"
        case .duplicateVersion(let version):
            return "two migration files have the version \(Migration.fileName(version: version, name: "…")); every number may be used once"
        case .checksumMismatch(let version, let name, let expected, let found):
            return "migration \(Migration.fileName(version: version, name: name)) was edited after it was applied (checksum \(expected) ≠ \(found)); write a new migration instead"
        case .missingFile(let version, let name):
            return "migration \(Migration.fileName(version: version, name: name)) was applied but its file is missing"
        case .renamed(let version, let appliedName, let fileName):
            return "migration \(Migration.fileName(version: version, name: appliedName)) was applied under that name but the file is now \(fileName); restore the name"
        case .outOfOrder(let version, let name, let latestApplied):
            return "migration \(Migration.fileName(version: version, name: name)) is numbered below \(latestApplied), which is already applied; renumber it after \(latestApplied)"
        case .unreadable(let path, let reason):
            return "cannot read migrations at \(path): \(reason)"
        case .failed(let version, let name, let error):
            return "migration \(Migration.fileName(version: version, name: name)) failed and was rolled back: \(error)"
        }
    }
}
