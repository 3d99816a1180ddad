/// JSON text output for hand-built documents: JOSE headers, RFC 7638 thumbprint input, token
/// claims and responses, where member order and the absence of whitespace are part of the contract
/// and the hot paths cannot afford an encoder.
public enum JSONText {
    /// A JSON string literal for `value` (RFC 8259 §7): quotes, backslashes and control characters
    /// escaped, and U+2028 and U+2029 too (so the text is also safe inside a script); everything
    /// else, non-ASCII included, written as UTF-8, as RFC 7638 §3.3 expects.
    public static func string(_ value: String) -> String {
        // Most values (algorithm names, key IDs, base64url members, client ids) need no escaping:
        // copy them whole. 0xE2 starts U+2028 and U+2029 in UTF-8, so it takes the careful path.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0xE2 }) {
            return "\"" + value + "\""
        }
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// `{"name":"value",…}` with members in the given order and no whitespace.
    public static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ":" + string($0.1) }.joined(separator: ",") + "}"
    }
}
