/// The textual PEM encoding (RFC 7468) of a single DER object.
enum PEM {
    /// Bounds the input accepted as PEM: a 3072-bit RSA PKCS#8 key is about 2.5 KB of PEM.
    static let maximumLength = 64 * 1024

    /// The DER inside the one `-----BEGIN label-----` … `-----END label-----` block of `text`.
    ///
    /// Follows RFC 7468's strict grammar for the body: lines of standard base64 with padding only at the end.
    /// Whitespace around the block is allowed; anything else outside it, a second block, or encrypted
    /// PEM headers (`Proc-Type:`) are not.
    static func decode(_ text: String, label: String) throws -> [UInt8] {
        guard text.utf8.count <= maximumLength else { throw KeyError.invalidEncoding("PEM too long") }
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
        guard lines.first == begin, lines.last == end, lines.count >= 3 else {
            throw KeyError.invalidEncoding("expected a single \(label) PEM block")
        }
        lines.removeFirst()
        lines.removeLast()
        let body = lines.joined()
        guard let der = decodeBase64(body), !der.isEmpty else { throw KeyError.invalidEncoding("invalid base64 in PEM") }
        return der
    }

    static func encode(_ der: [UInt8], label: String) -> String {
        let body = Array(encodeBase64(der))
        var text = "-----BEGIN \(label)-----\n"
        var index = 0
        while index < body.count {
            let next = min(index + 64, body.count)
            text += String(body[index..<next]) + "\n"
            index = next
        }
        return text + "-----END \(label)-----\n"
    }

    /// Standard base64 (RFC 4648 §4), by way of the base64url codec.
    private static func decodeBase64(_ text: String) -> [UInt8]? {
        var unpadded = Substring(text)
        var padding = 0
        while unpadded.hasSuffix("=") && padding < 2 {
            unpadded.removeLast()
            padding += 1
        }
        guard text.utf8.count % 4 == 0, !unpadded.contains("-"), !unpadded.contains("_") else { return nil }
        let urlSafe = String(unpadded.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
        return Base64URL.decode(urlSafe)
    }

    private static func encodeBase64(_ bytes: [UInt8]) -> String {
        let urlSafe = Base64URL.encode(bytes)
        let standard = String(urlSafe.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        return standard + String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
