/// Minimal JSON text output for the few fixed-shape objects this module writes (JOSE headers, RFC 7638
/// thumbprint input), where member order and the absence of whitespace are part of the contract.
enum JSONText {
    /// A JSON string literal for `value`: quotes, backslashes and control characters escaped, everything
    /// else (including non-ASCII) written as UTF-8, as RFC 7638 §3.3 expects.
    static func quoted(_ value: String) -> String {
        // Most values (algorithm names, key IDs, base64url members) need no escaping: copy them whole.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + value + "\""
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// `{"name":value,…}` with members in the given order and no whitespace.
    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { quoted($0.0) + ":" + quoted($0.1) }.joined(separator: ",") + "}"
    }
}
