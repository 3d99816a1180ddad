/// One query parameter as it goes on the wire: declared type, format and bytes (`nil` is SQL NULL).
public struct PostgresBind: Sendable, Hashable {
    public var dataType: PostgresDataType
    public var format: PostgresFormat
    public var bytes: [UInt8]?

    public init(dataType: PostgresDataType, format: PostgresFormat, bytes: [UInt8]?) {
        self.dataType = dataType
        self.format = format
        self.bytes = bytes
    }

    /// SQL NULL, declared with the given type so the server can still resolve the statement.
    public static func null(_ dataType: PostgresDataType) -> PostgresBind {
        PostgresBind(dataType: dataType, format: .binary, bytes: nil)
    }
}
