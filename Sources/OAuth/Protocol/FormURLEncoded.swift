/// Strict `application/x-www-form-urlencoded` decoding (WHATWG URL §5.1, as RFC 6749 §3.2 requires).
///
/// Unlike a lenient decoder it reports a repeated parameter (RFC 6749 §3.1: "Request and
/// response parameters MUST NOT be included more than once") and refuses malformed
/// percent-escapes and invalid UTF-8, so that bad input gets a clear error.
public enum FormURLEncoded {
    public enum DecodingError: Error, Sendable, Equatable {
        case malformedEscape
        case invalidUTF8
        /// A NUL character: no OAuth parameter holds one, and PostgreSQL cannot store one in text.
        case nulCharacter
        case repeatedParameter(String)
        case tooManyParameters
    }

    /// Bounds the work one body can cause; no OAuth request needs more parameters.
    public static let maxParameters = 64

    /// Decodes into ordered pairs; empty segments (`a=1&&b=2`) are skipped.
    public static func pairs(_ bytes: some Collection<UInt8>) throws(DecodingError) -> [(name: String, value: String)] {
        var result: [(String, String)] = []
        var segment: [UInt8] = []
        func flush() throws(DecodingError) {
            defer { segment.removeAll(keepingCapacity: true) }
            guard !segment.isEmpty else { return }
            guard result.count < maxParameters else { throw .tooManyParameters }
            if let eq = segment.firstIndex(of: UInt8(ascii: "=")) {
                result.append((try decode(segment[..<eq]), try decode(segment[(eq + 1)...])))
            } else {
                result.append((try decode(segment[...]), ""))
            }
        }
        for byte in bytes {
            if byte == UInt8(ascii: "&") { try flush() } else { segment.append(byte) }
        }
        try flush()
        return result
    }

    /// Decodes into a dictionary, refusing any parameter that appears twice.
    public static func parameters(_ bytes: some Collection<UInt8>) throws(DecodingError) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in try pairs(bytes) {
            guard result.updateValue(value, forKey: name) == nil else { throw .repeatedParameter(name) }
        }
        return result
    }

    /// Decodes one name or value: `+` is a space, `%XX` a byte; the bytes must be UTF-8 without NUL.
    public static func decode(_ input: ArraySlice<UInt8>) throws(DecodingError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var index = input.startIndex
        while index < input.endIndex {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard input.distance(from: index, to: input.endIndex) >= 3,
                      let high = hexValue(input[index + 1]), let low = hexValue(input[index + 2]) else {
                    throw .malformedEscape
                }
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        guard !out.contains(0) else { throw .nulCharacter }
        guard let text = String(validating: out, as: UTF8.self) else { throw .invalidUTF8 }
        return text
    }

    /// Encodes a name or value so that ``decode(_:)`` returns it (unreserved characters stay as they are).
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return out
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
