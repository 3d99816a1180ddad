/// A result copied out of libpq's `PGresult`, so it can cross threads and outlive the connection.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    /// Rows inserted, updated, deleted, selected… as the server counted them (`PQcmdTuples`);
    /// 0 when the command reports no count.
    public var affectedRows: Int
    /// The command tag, for example `"INSERT 0 1"` or `"COMMIT"` (`PQcmdStatus`).
    public var commandTag: String
    let storage: PostgresResultStorage

    init(storage: PostgresResultStorage, affectedRows: Int, commandTag: String) {
        self.columns = storage.columns
        self.storage = storage
        self.affectedRows = affectedRows
        self.commandTag = commandTag
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.rowCount }

    public subscript(position: Int) -> PostgresRow {
        precondition(position >= 0 && position < storage.rowCount, "row index out of range")
        return PostgresRow(storage: storage, row: position)
    }

    /// The type of each column (`PQftype`).
    public var columnTypes: [PostgresDataType] { storage.types }
}

/// One row of a `PostgresRows`.
public struct PostgresRow: Sendable {
    let storage: PostgresResultStorage
    let row: Int

    public var columns: [String] { storage.columns }

    /// Decodes the value in the column at `column` (0-based). NULL decodes as `nil` for
    /// optionals and throws a decoding error naming the column otherwise.
    public func decode<T: PostgresDecodable>(_ column: Int, as type: T.Type = T.self) throws -> T {
        guard column >= 0, column < storage.columns.count else {
            throw PostgresError.decoding("column index \(column) is out of range (the row has \(storage.columns.count) columns)")
        }
        let name = storage.columns[column]
        guard let bytes = storage.value(row: row, column: column) else {
            return try T.decodeNull(column: name)
        }
        let cell = PostgresCell(
            bytes: bytes, dataType: storage.types[column], format: storage.formats[column], columnName: name)
        return try T.decode(from: cell)
    }

    /// Decodes the value in the first column named `column`.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let index = storage.columns.firstIndex(of: column) else {
            throw PostgresError.decoding("the result has no column \"\(column)\" (columns: \(storage.columns.joined(separator: ", ")))")
        }
        return try decode(index, as: type)
    }

    /// Whether the value in the column at `column` is SQL NULL (also true for an index out of range).
    public func isNull(_ column: Int) -> Bool {
        guard column >= 0, column < storage.columns.count else { return true }
        return storage.value(row: row, column: column) == nil
    }
}

/// The copied values of one result, row-major.
final class PostgresResultStorage: Sendable {
    let columns: [String]
    let types: [PostgresDataType]
    let formats: [PostgresFormat]
    let rowCount: Int
    private let values: [[UInt8]?]

    init(columns: [String], types: [PostgresDataType], formats: [PostgresFormat], rowCount: Int, values: [[UInt8]?]) {
        self.columns = columns
        self.types = types
        self.formats = formats
        self.rowCount = rowCount
        self.values = values
    }

    static let empty = PostgresResultStorage(columns: [], types: [], formats: [], rowCount: 0, values: [])

    func value(row: Int, column: Int) -> [UInt8]? {
        values[row * columns.count + column]
    }
}
