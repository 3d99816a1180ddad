#if canImport(Glibc)
import Glibc
#endif

/// Serializes responses into one contiguous buffer, ready for a single `send`.
enum HTTPResponseEncoder {
    /// How the response is framed on the connection.
    struct Context {
        /// HEAD: keep `Content-Length` of the body but send no body (RFC 9110 §9.3.2).
        var isHead: Bool
        /// The request was HTTP/1.0 with keep-alive, which needs an explicit `Connection: keep-alive`.
        var isHTTP10KeepAlive: Bool
        /// The server closes the connection after this response.
        var isClosing: Bool
    }

    /// Appends the serialized response to `buffer`; returns the names of handler headers dropped as invalid.
    @discardableResult
    static func encode(_ response: HTTPResponse, context: Context, dateLine: [UInt8], into buffer: inout [UInt8]) -> [String] {
        var dropped: [String] = []
        let code = response.status.code
        let hasNoBody = (100..<200).contains(code) || code == 204 || code == 304
        buffer.reserveCapacity(buffer.count + 128 + response.body.count)
        appendASCII("HTTP/1.1 ", to: &buffer)
        appendStatusCode(code, to: &buffer)
        buffer.append(0x20)
        appendSanitized(response.status.reasonPhrase, to: &buffer)
        appendASCII("\r\n", to: &buffer)
        for (name, value) in response.headers {
            if isServerOwned(name) { continue }
            // A CR or LF from a handler would let it (or whoever controls the value) split the response.
            guard isValidName(name), isValidValue(value) else {
                dropped.append(name)
                continue
            }
            buffer.append(contentsOf: name.utf8)
            appendASCII(": ", to: &buffer)
            buffer.append(contentsOf: value.utf8)
            appendASCII("\r\n", to: &buffer)
        }
        if !hasNoBody {
            appendASCII("Content-Length: ", to: &buffer)
            appendDecimal(response.body.count, to: &buffer)
            appendASCII("\r\n", to: &buffer)
        }
        buffer.append(contentsOf: dateLine)
        if context.isClosing {
            appendASCII("Connection: close\r\n", to: &buffer)
        } else if context.isHTTP10KeepAlive {
            appendASCII("Connection: keep-alive\r\n", to: &buffer)
        }
        appendASCII("\r\n", to: &buffer)
        if !hasNoBody && !context.isHead {
            buffer.append(contentsOf: response.body)
        }
        return dropped
    }

    /// `100 Continue`, the interim response to `Expect: 100-continue` (RFC 9110 §10.1.1).
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private static func isServerOwned(_ name: String) -> Bool {
        HTTPHeaders.namesMatch(name, "Content-Length") || HTTPHeaders.namesMatch(name, "Date")
            || HTTPHeaders.namesMatch(name, "Connection") || HTTPHeaders.namesMatch(name, "Transfer-Encoding")
    }

    private static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(isTokenByte)
    }

    private static func isValidValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    private static func appendSanitized(_ text: String, to buffer: inout [UInt8]) {
        for byte in text.utf8 where byte == 0x09 || (byte >= 0x20 && byte != 0x7F) {
            buffer.append(byte)
        }
    }

    @inline(__always)
    private static func appendASCII(_ text: StaticString, to buffer: inout [UInt8]) {
        text.withUTF8Buffer { buffer.append(contentsOf: $0) }
    }

    private static func appendStatusCode(_ code: Int, to buffer: inout [UInt8]) {
        let clamped = (100...999).contains(code) ? code : 500
        buffer.append(UInt8(0x30 + clamped / 100))
        buffer.append(UInt8(0x30 + clamped / 10 % 10))
        buffer.append(UInt8(0x30 + clamped % 10))
    }

    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        if value == 0 {
            buffer.append(0x30)
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var remaining = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while remaining > 0 && count < 20 {
                raw[count] = UInt8(0x30 + remaining % 10)
                remaining /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) {
                buffer.append(raw[index])
            }
        }
    }
}

/// The `Date` header line, regenerated at most once per second (RFC 9110 §6.6.1 IMF-fixdate).
struct DateHeaderCache {
    private(set) var line: [UInt8] = []
    private var second = Int.min

    mutating func refresh() {
        let (seconds, fields) = System.wallClockUTC()
        guard seconds != second else { return }
        second = seconds
        line = Self.format(fields)
    }

    static func format(_ fields: tm) -> [UInt8] {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = days[Int(fields.tm_wday).clamped(0, 6)]
        let month = months[Int(fields.tm_mon).clamped(0, 11)]
        func two(_ value: Int32) -> String {
            value < 10 ? "0\(value)" : "\(value)"
        }
        let text = "Date: \(day), \(two(fields.tm_mday)) \(month) \(1900 + Int(fields.tm_year)) "
            + "\(two(fields.tm_hour)):\(two(fields.tm_min)):\(two(fields.tm_sec)) GMT\r\n"
        return Array(text.utf8)
    }
}

extension Int {
    fileprivate func clamped(_ lower: Int, _ upper: Int) -> Int {
        Swift.min(Swift.max(self, lower), upper)
    }
}
