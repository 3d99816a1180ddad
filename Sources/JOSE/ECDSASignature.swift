/// Conversions between the JWS form of an ES256 signature and the DER form OpenSSL uses.
///
/// RFC 7518 §3.4: the JWS signature is "the concatenation of the two unsigned integers R and S", each "a
/// 32-octet sequence", while OpenSSL produces and expects the ASN.1 `ECDSA-Sig-Value` SEQUENCE of two INTEGERs.
enum ECDSASignature {
    static let scalarLength = 32
    static let rawLength = 64

    /// The order n of the P-256 base point (SEC 2 §2.4.2), big-endian.
    static let p256Order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// The P-256 field prime p (SEC 2 §2.4.2), big-endian; public coordinates must be below it.
    static let p256Prime: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]

    /// Whether a 32-byte big-endian value is below a 32-byte big-endian bound.
    static func isLess(_ value: ArraySlice<UInt8>, than bound: [UInt8]) -> Bool {
        guard value.count == bound.count else { return false }
        for (a, b) in zip(value, bound) where a != b {
            return a < b
        }
        return false
    }

    /// Whether a 32-byte big-endian scalar is in 1...n-1, the range FIPS 186-4 §6.4.2 requires of r and s.
    static func isValidScalar(_ value: ArraySlice<UInt8>) -> Bool {
        value.count == scalarLength && value.contains { $0 != 0 } && isLess(value, than: p256Order)
    }

    /// DER `ECDSA-Sig-Value` for a 64-byte R || S, or nil if R or S is outside 1...n-1.
    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == rawLength else { return nil }
        let r = raw[0..<scalarLength], s = raw[scalarLength..<rawLength]
        guard isValidScalar(r), isValidScalar(s) else { return nil }
        let body = derInteger(r) + derInteger(s)
        // At most 2 × (2 + 33) = 70 bytes, so the short length form always applies.
        return [0x30, UInt8(body.count)] + body
    }

    private static func derInteger(_ magnitude: ArraySlice<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if let first = bytes.first, first & 0x80 != 0 { bytes.insert(0, at: 0) }
        return [0x02, UInt8(bytes.count)] + bytes
    }

    /// The 64-byte R || S for a DER `ECDSA-Sig-Value`, or nil if it is not strict DER for P-256 scalars.
    static func raw(fromDER der: [UInt8]) -> [UInt8]? {
        guard der.count >= 2, der[0] == 0x30, der[1] < 0x80, Int(der[1]) == der.count - 2 else { return nil }
        var index = 2
        var out = [UInt8]()
        out.reserveCapacity(rawLength)
        for _ in 0..<2 {
            guard index + 2 <= der.count, der[index] == 0x02 else { return nil }
            let length = Int(der[index + 1])
            index += 2
            guard length >= 1, length <= scalarLength + 1, index + length <= der.count else { return nil }
            var content = der[index..<(index + length)]
            index += length
            // DER INTEGER: non-negative here, and minimal (a leading zero only when the next byte has its top bit set).
            guard content[content.startIndex] & 0x80 == 0 else { return nil }
            if content.count > 1, content[content.startIndex] == 0 {
                guard content[content.startIndex + 1] & 0x80 != 0 else { return nil }
                content = content.dropFirst()
            }
            guard content.count <= scalarLength else { return nil }
            out.append(contentsOf: repeatElement(0, count: scalarLength - content.count))
            out.append(contentsOf: content)
        }
        guard index == der.count else { return nil }
        return out
    }
}
