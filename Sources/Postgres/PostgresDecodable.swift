import Foundation

/// One non-NULL result value as libpq returned it.
public struct PostgresCell: Sendable {
    public let bytes: [UInt8]
    public let dataType: PostgresDataType
    public let format: PostgresFormat
    public let columnName: String

    public init(bytes: [UInt8], dataType: PostgresDataType, format: PostgresFormat, columnName: String) {
        self.bytes = bytes
        self.dataType = dataType
        self.format = format
        self.columnName = columnName
    }

    /// The bytes read as UTF-8 (every connection sets `client_encoding=UTF8`).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// A decoding error that names the column, the value's type and format.
    public func mismatch(_ swiftType: Any.Type, _ reason: String = "unsupported type") -> PostgresError {
        .decoding(
            "column \"\(columnName)\" (type oid \(dataType.rawValue), \(format) format) cannot be decoded as \(swiftType): \(reason)"
        )
    }
}

/// A Swift value that can be read from a result column.
public protocol PostgresDecodable {
    /// Decodes a non-NULL value, in whichever format libpq returned it.
    static func decode(from cell: PostgresCell) throws -> Self
    /// The value for SQL NULL. The default throws a decoding error naming the column;
    /// `Optional` returns `nil`.
    static func decodeNull(column: String) throws -> Self
}

extension PostgresDecodable {
    public static func decodeNull(column: String) throws -> Self {
        throw PostgresError.decoding(
            "column \"\(column)\" is NULL but was decoded as non-optional \(Self.self)")
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Wrapped? {
        try Wrapped.decode(from: cell)
    }

    public static func decodeNull(column: String) throws -> Wrapped? {
        nil
    }
}

extension String: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> String {
        if cell.format == .text || cell.dataType.isTextLike {
            return cell.text
        }
        switch cell.dataType {
        case .uuid: return try UUID.decode(from: cell).uuidString.lowercased()
        case .int2, .int4, .int8: return String(try Int64.decode(from: cell))
        case .bool: return try Bool.decode(from: cell) ? "t" : "f"
        default: throw cell.mismatch(String.self)
        }
    }
}

enum IntegerDecoding {
    static func decode<I: FixedWidthInteger>(_ cell: PostgresCell, as type: I.Type) throws -> I {
        let wide: Int64
        switch cell.format {
        case .text:
            guard let value = Int64(cell.text) else { throw cell.mismatch(I.self, "\"\(cell.text)\" is not an integer") }
            wide = value
        case .binary:
            var reader = ByteReader(cell.bytes)
            switch (cell.dataType, cell.bytes.count) {
            case (.int2, 2): wide = Int64(try reader.read(Int16.self))
            case (.int4, 4): wide = Int64(try reader.read(Int32.self))
            case (.oid, 4): wide = Int64(try reader.read(UInt32.self))
            case (.int8, 8): wide = try reader.read(Int64.self)
            default: throw cell.mismatch(I.self)
            }
        }
        guard let value = I(exactly: wide) else { throw cell.mismatch(I.self, "\(wide) is out of range") }
        return value
    }
}

extension Int: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int { try IntegerDecoding.decode(cell, as: Int.self) }
}

extension Int64: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int64 { try IntegerDecoding.decode(cell, as: Int64.self) }
}

extension Int32: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int32 { try IntegerDecoding.decode(cell, as: Int32.self) }
}

extension Int16: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Int16 { try IntegerDecoding.decode(cell, as: Int16.self) }
}

extension Bool: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Bool {
        switch cell.format {
        case .text:
            switch cell.text {
            case "t", "true": return true
            case "f", "false": return false
            default: throw cell.mismatch(Bool.self, "\"\(cell.text)\" is not a boolean")
            }
        case .binary:
            guard cell.dataType == .bool, cell.bytes.count == 1 else { throw cell.mismatch(Bool.self) }
            return cell.bytes[0] != 0
        }
    }
}

extension Double: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Double {
        switch cell.format {
        case .text:
            switch cell.text {
            case "Infinity": return .infinity
            case "-Infinity": return -.infinity
            case "NaN": return .nan
            default:
                guard let value = Double(cell.text) else {
                    throw cell.mismatch(Double.self, "\"\(cell.text)\" is not a number")
                }
                return value
            }
        case .binary:
            var reader = ByteReader(cell.bytes)
            switch (cell.dataType, cell.bytes.count) {
            case (.float8, 8): return Double(bitPattern: try reader.read(UInt64.self))
            case (.float4, 4): return Double(Float(bitPattern: try reader.read(UInt32.self)))
            case (.int2, _), (.int4, _), (.int8, _): return Double(try Int64.decode(from: cell))
            default: throw cell.mismatch(Double.self)
            }
        }
    }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public static func decode(from cell: PostgresCell) throws -> [Element] {
        try Element.postgresArrayDecode(cell)
    }
}

extension UInt8 {
    public static func postgresArrayDecode(_ cell: PostgresCell) throws -> [UInt8] {
        guard cell.format == .text, cell.dataType == .bytea else {
            return cell.bytes
        }
        guard let bytes = ByteaText.decode(cell.bytes) else {
            throw cell.mismatch([UInt8].self, "malformed bytea text")
        }
        return bytes
    }
}

extension String {
    public static func postgresArrayDecode(_ cell: PostgresCell) throws -> [String] {
        let elements: [String?]
        switch cell.format {
        case .text:
            guard let parsed = ArrayText.parse(cell.text) else {
                throw cell.mismatch([String].self, "malformed array literal")
            }
            elements = parsed
        case .binary:
            elements = try ArrayBinary.parse(cell)
        }
        return try elements.enumerated().map { index, element in
            guard let element else {
                throw cell.mismatch([String].self, "element \(index + 1) is NULL")
            }
            return element
        }
    }
}

extension Date: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> Date {
        switch cell.format {
        case .text:
            guard cell.dataType == .timestamptz || cell.dataType == .timestamp,
                let date = PostgresTime.parse(cell.text)
            else { throw cell.mismatch(Date.self, "\"\(cell.text)\" is not an ISO timestamp") }
            return date
        case .binary:
            guard cell.dataType == .timestamptz || cell.dataType == .timestamp, cell.bytes.count == 8 else {
                throw cell.mismatch(Date.self)
            }
            var reader = ByteReader(cell.bytes)
            return PostgresTime.date(fromMicroseconds: try reader.read(Int64.self))
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(from cell: PostgresCell) throws -> UUID {
        switch cell.format {
        case .text:
            guard let uuid = UUID(uuidString: cell.text) else {
                throw cell.mismatch(UUID.self, "\"\(cell.text)\" is not a UUID")
            }
            return uuid
        case .binary:
            guard cell.bytes.count == 16 else { throw cell.mismatch(UUID.self) }
            let b = cell.bytes
            return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                               b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
        }
    }
}

/// Reads big-endian integers from a byte array, throwing instead of reading past the end.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func read<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let size = MemoryLayout<I>.size
        guard remaining >= size else { throw PostgresError.decoding("value is truncated") }
        var value: I = 0
        for byte in bytes[offset..<offset + size] {
            value = (value << 8) | I(truncatingIfNeeded: byte)
        }
        offset += size
        return value
    }

    mutating func read(count: Int) throws -> [UInt8] {
        guard count >= 0, remaining >= count else { throw PostgresError.decoding("value is truncated") }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}

/// `bytea` text output: hex (`\x0aff…`, the default) or the older escape format.
enum ByteaText {
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        if text.count >= 2, text[0] == UInt8(ascii: "\\"), text[1] == UInt8(ascii: "x") {
            let hex = text[2...]
            guard hex.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(hex.count / 2)
            var index = hex.startIndex
            while index < hex.endIndex {
                guard let high = nibble(hex[index]), let low = nibble(hex[index + 1]) else { return nil }
                bytes.append(high << 4 | low)
                index += 2
            }
            return bytes
        }
        var bytes: [UInt8] = []
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard byte == UInt8(ascii: "\\") else {
                bytes.append(byte)
                index += 1
                continue
            }
            if index + 1 < text.count, text[index + 1] == UInt8(ascii: "\\") {
                bytes.append(byte)
                index += 2
                continue
            }
            guard index + 3 < text.count else { return nil }
            var value: UInt8 = 0
            for digit in text[(index + 1)...(index + 3)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit) else { return nil }
                value = value &* 8 &+ (digit - UInt8(ascii: "0"))
            }
            bytes.append(value)
            index += 4
        }
        return bytes
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// One-dimensional array literals as the server prints them: `{a,"b c",NULL}`, optionally
/// preceded by bounds (`[0:1]={…}`).
enum ArrayText {
    static func parse(_ text: String) -> [String?]? {
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "[" {
            guard let equals = scalars.firstIndex(of: "=") else { return nil }
            scalars = Array(scalars[(equals + 1)...])
        }
        guard scalars.first == "{", scalars.last == "}" else { return nil }
        let body = scalars[1..<(scalars.count - 1)]
        if body.isEmpty { return [] }
        var elements: [String?] = []
        var index = body.startIndex
        while true {
            var element = String.UnicodeScalarView()
            var quoted = false
            if index < body.endIndex, body[index] == "\"" {
                quoted = true
                index += 1
                while true {
                    guard index < body.endIndex else { return nil }
                    let scalar = body[index]
                    if scalar == "\"" { index += 1; break }
                    if scalar == "\\" {
                        index += 1
                        guard index < body.endIndex else { return nil }
                    }
                    element.append(body[index])
                    index += 1
                }
            } else {
                while index < body.endIndex, body[index] != "," {
                    let scalar = body[index]
                    if scalar == "{" || scalar == "\"" { return nil }  // nested arrays are not supported
                    if scalar == "\\" {
                        index += 1
                        guard index < body.endIndex else { return nil }
                    }
                    element.append(body[index])
                    index += 1
                }
            }
            let value = String(element)
            elements.append(!quoted && value.uppercased() == "NULL" ? nil : value)
            if index == body.endIndex { break }
            guard body[index] == "," else { return nil }
            index += 1
        }
        return elements
    }
}

/// The binary array format (`array_send`), one dimension of text-like elements.
enum ArrayBinary {
    static func parse(_ cell: PostgresCell) throws -> [String?] {
        var reader = ByteReader(cell.bytes)
        let dimensions = try reader.read(Int32.self)
        _ = try reader.read(Int32.self)  // has-null flag
        let elementType = PostgresDataType(rawValue: try reader.read(UInt32.self))
        if dimensions == 0 { return [] }
        guard dimensions == 1 else { throw cell.mismatch([String].self, "\(dimensions)-dimensional arrays are not supported") }
        guard elementType.isTextLike else { throw cell.mismatch([String].self, "element type oid \(elementType.rawValue)") }
        let count = try reader.read(Int32.self)
        _ = try reader.read(Int32.self)  // lower bound
        guard count >= 0 else { throw cell.mismatch([String].self, "negative element count") }
        var elements: [String?] = []
        for _ in 0..<count {
            let length = try reader.read(Int32.self)
            if length == -1 {
                elements.append(nil)
            } else {
                elements.append(String(decoding: try reader.read(count: Int(length)), as: UTF8.self))
            }
        }
        return elements
    }
}
