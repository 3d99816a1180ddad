import Foundation

/// A Swift value that can be sent as a query parameter.
public protocol PostgresEncodable: Sendable {
    /// The type declared for a NULL of this Swift type (used by `Optional`).
    static var postgresDataType: PostgresDataType { get }
    /// The parameter as it goes on the wire.
    var postgresBind: PostgresBind { get }
}

extension String: PostgresEncodable {
    /// Strings are sent in text format with no declared type, so the server resolves them
    /// from context: the same string can fill a `text`, `uuid`, `jsonb` or enum column.
    public static var postgresDataType: PostgresDataType { .unspecified }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .unspecified, format: .text, bytes: Array(utf8))
    }
}

extension Int: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .int8, format: .binary, bytes: BinaryEncoding.bigEndian(Int64(self)))
    }
}

extension Int64: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .int8 }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .int8, format: .binary, bytes: BinaryEncoding.bigEndian(self))
    }
}

extension Int32: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .int4 }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .int4, format: .binary, bytes: BinaryEncoding.bigEndian(self))
    }
}

extension Int16: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .int2 }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .int2, format: .binary, bytes: BinaryEncoding.bigEndian(self))
    }
}

extension Bool: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .bool }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .bool, format: .binary, bytes: [self ? 1 : 0])
    }
}

extension Double: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .float8 }
    public var postgresBind: PostgresBind {
        PostgresBind(dataType: .float8, format: .binary, bytes: BinaryEncoding.bigEndian(bitPattern))
    }
}

extension Array: PostgresEncodable where Element: PostgresArrayElement {
    public static var postgresDataType: PostgresDataType { Element.postgresArrayDataType }
    public var postgresBind: PostgresBind { Element.postgresArrayBind(self) }
}

/// Element types whose Swift arrays have a PostgreSQL encoding: `UInt8` (as `bytea`) and
/// `String` (as `text[]`).
public protocol PostgresArrayElement: Sendable {
    static var postgresArrayDataType: PostgresDataType { get }
    static func postgresArrayBind(_ array: [Self]) -> PostgresBind
    static func postgresArrayDecode(_ cell: PostgresCell) throws -> [Self]
}

extension UInt8: PostgresArrayElement {
    public static var postgresArrayDataType: PostgresDataType { .bytea }
    public static func postgresArrayBind(_ array: [UInt8]) -> PostgresBind {
        PostgresBind(dataType: .bytea, format: .binary, bytes: array)
    }
}

extension String: PostgresArrayElement {
    public static var postgresArrayDataType: PostgresDataType { .textArray }
    public static func postgresArrayBind(_ array: [String]) -> PostgresBind {
        // Binary array format (src/backend/utils/adt/arrayfuncs.c, array_send):
        // ndim, has-null flag, element type, then per dimension (size, lower bound),
        // then each element as length + bytes.
        var bytes: [UInt8] = []
        bytes += BinaryEncoding.bigEndian(Int32(array.isEmpty ? 0 : 1))
        bytes += BinaryEncoding.bigEndian(Int32(0))
        bytes += BinaryEncoding.bigEndian(PostgresDataType.text.rawValue)
        if !array.isEmpty {
            bytes += BinaryEncoding.bigEndian(Int32(clamping: array.count))
            bytes += BinaryEncoding.bigEndian(Int32(1))
            for element in array {
                let utf8 = Array(element.utf8)
                bytes += BinaryEncoding.bigEndian(Int32(clamping: utf8.count))
                bytes += utf8
            }
        }
        return PostgresBind(dataType: .textArray, format: .binary, bytes: bytes)
    }
}

extension Date: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .timestamptz }
    /// Sent as `timestamptz` in binary: microseconds since 2000-01-01 UTC, rounded.
    public var postgresBind: PostgresBind {
        PostgresBind(
            dataType: .timestamptz, format: .binary,
            bytes: BinaryEncoding.bigEndian(PostgresTime.microseconds(from: self)))
    }
}

extension UUID: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { .uuid }
    public var postgresBind: PostgresBind {
        let value = uuid
        let bytes = withUnsafeBytes(of: value) { Array($0) }
        return PostgresBind(dataType: .uuid, format: .binary, bytes: bytes)
    }
}

extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public static var postgresDataType: PostgresDataType { Wrapped.postgresDataType }
    public var postgresBind: PostgresBind {
        switch self {
        case .some(let value): return value.postgresBind
        case .none:
            let type = Wrapped.postgresDataType
            // A typeless NULL is sent in text format, so the server may resolve it to any type.
            return PostgresBind(dataType: type, format: type == .unspecified ? .text : .binary, bytes: nil)
        }
    }
}

enum BinaryEncoding {
    static func bigEndian<I: FixedWidthInteger>(_ value: I) -> [UInt8] {
        var big = value.bigEndian
        return withUnsafeBytes(of: &big) { Array($0) }
    }
}

/// Conversions between `Date` and PostgreSQL's timestamp representation.
enum PostgresTime {
    /// Seconds from 2000-01-01 (PostgreSQL's epoch) to 2001-01-01 (Foundation's reference date).
    static let secondsFromPostgresEpochToReferenceDate: Double = 366 * 86_400
    /// Days from 1970-01-01 to 2000-01-01.
    static let postgresEpochDaysSinceUnixEpoch: Int64 = 10_957

    static func microseconds(from date: Date) -> Int64 {
        let seconds = date.timeIntervalSinceReferenceDate + secondsFromPostgresEpochToReferenceDate
        let micros = (seconds * 1_000_000).rounded()
        if micros >= Double(Int64.max) { return Int64.max }
        if micros <= Double(Int64.min) { return Int64.min }
        return Int64(micros)
    }

    static func date(fromMicroseconds micros: Int64) -> Date {
        // PostgreSQL's 'infinity' and '-infinity'.
        if micros == Int64.max { return Date.distantFuture }
        if micros == Int64.min { return Date.distantPast }
        let whole = micros / 1_000_000
        let fraction = micros % 1_000_000
        return Date(
            timeIntervalSinceReferenceDate: Double(whole) - secondsFromPostgresEpochToReferenceDate
                + Double(fraction) / 1_000_000)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
    /// Low-Level Date Algorithms", days_from_civil).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Parses the ISO output of `timestamp` and `timestamptz` (`DateStyle=ISO`, which every
    /// connection sets): `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]`, or `infinity`.
    static func parse(_ text: String) -> Date? {
        if text == "infinity" { return .distantFuture }
        if text == "-infinity" { return .distantPast }
        var rest = Substring(text)
        var isBC = false
        if rest.hasSuffix(" BC") {
            isBC = true
            rest = rest.dropLast(3)
        }
        let halves = rest.split(separator: " ", maxSplits: 1)
        guard halves.count == 2 else { return nil }
        let dateParts = halves[0].split(separator: "-", omittingEmptySubsequences: false)
        guard dateParts.count == 3, var year = Int64(dateParts[0]), let month = Int64(dateParts[1]),
            let day = Int64(dateParts[2]), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        if isBC { year = 1 - year }

        var time = halves[1]
        var offsetSeconds: Int64 = 0
        if let signIndex = time.firstIndex(where: { $0 == "+" || $0 == "-" }) {
            let sign: Int64 = time[signIndex] == "-" ? -1 : 1
            let offsetParts = time[time.index(after: signIndex)...].split(
                separator: ":", omittingEmptySubsequences: false)
            guard (1...3).contains(offsetParts.count) else { return nil }
            var total: Int64 = 0
            for (index, part) in offsetParts.enumerated() {
                guard let value = Int64(part) else { return nil }
                total += value * [3600, 60, 1][index]
            }
            offsetSeconds = sign * total
            time = time[..<signIndex]
        }
        let timeParts = time.split(separator: ":", omittingEmptySubsequences: false)
        guard timeParts.count == 3, let hour = Int64(timeParts[0]), let minute = Int64(timeParts[1])
        else { return nil }
        let secondParts = timeParts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(secondParts.count), let second = Int64(secondParts[0]) else { return nil }
        var micros: Int64 = 0
        if secondParts.count == 2 {
            let digits = secondParts[1]
            guard !digits.isEmpty, digits.count <= 6, let value = Int64(digits) else { return nil }
            micros = value
            for _ in digits.count..<6 { micros *= 10 }
        }
        let days = daysFromCivil(year: year, month: month, day: day) - postgresEpochDaysSinceUnixEpoch
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        return date(fromMicroseconds: product + micros)
    }
}
