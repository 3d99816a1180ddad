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

    /// Whether the 32 bytes at `offset` in `value` (big-endian) are below a 32-byte big-endian bound.
    static func isLess(_ value: UnsafeBufferPointer<UInt8>, at offset: Int = 0, than bound: [UInt8]) -> Bool {
        guard offset >= 0, value.count - offset >= bound.count else { return false }
        for index in 0..<bound.count where value[offset + index] != bound[index] {
            return value[offset + index] < bound[index]
        }
        return false
    }

    /// Whether the 32-byte big-endian scalar at `offset` is in 1...n-1, the range FIPS 186-4 §6.4.2
    /// requires of r and s.
    static func isValidScalar(_ value: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        guard value.count - offset >= scalarLength else { return false }
        var any: UInt8 = 0
        for index in offset..<(offset + scalarLength) { any |= value[index] }
        return any != 0 && isLess(value, at: offset, than: p256Order)
    }

    /// DER `ECDSA-Sig-Value` for a 64-byte R || S, or nil if R or S is outside 1...n-1.
    static func der(fromRaw raw: [UInt8]) -> [UInt8]? {
        guard raw.count == rawLength else { return nil }
        return raw.withUnsafeBufferPointer { raw -> [UInt8]? in
            guard isValidScalar(raw, at: 0), isValidScalar(raw, at: scalarLength) else { return nil }
            // At most 2 + 2 × (2 + 33) = 72 bytes, so the short length form always applies.
            var out = [UInt8]()
            out.reserveCapacity(72)
            out.append(0x30)
            out.append(0)
            for start in [0, scalarLength] {
                var first = start
                while first < start + scalarLength - 1, raw[first] == 0 { first += 1 }
                let needsSignByte = raw[first] & 0x80 != 0
                out.append(0x02)
                out.append(UInt8(start + scalarLength - first + (needsSignByte ? 1 : 0)))
                if needsSignByte { out.append(0) }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: raw[first..<(start + scalarLength)]))
            }
            out[1] = UInt8(out.count - 2)
            return out
        }
    }

    /// The 64-byte R || S for a DER `ECDSA-Sig-Value`, or nil if it is not strict DER for P-256 scalars.
    static func raw(fromDER der: [UInt8]) -> [UInt8]? {
        der.withUnsafeBufferPointer { der -> [UInt8]? in
            guard der.count >= 2, der[0] == 0x30, der[1] < 0x80, Int(der[1]) == der.count - 2 else { return nil }
            var out = [UInt8](repeating: 0, count: rawLength)
            var index = 2
            for slot in 0..<2 {
                guard index + 2 <= der.count, der[index] == 0x02 else { return nil }
                var length = Int(der[index + 1])
                index += 2
                guard length >= 1, length <= scalarLength + 1, index + length <= der.count else { return nil }
                // DER INTEGER: non-negative here, and minimal (a leading zero only when the next byte has its top bit set).
                guard der[index] & 0x80 == 0 else { return nil }
                if length > 1, der[index] == 0 {
                    guard der[index + 1] & 0x80 != 0 else { return nil }
                    index += 1
                    length -= 1
                }
                guard length <= scalarLength else { return nil }
                let destination = slot * scalarLength + scalarLength - length
                for offset in 0..<length { out[destination + offset] = der[index + offset] }
                index += length
            }
            guard index == der.count else { return nil }
            return out
        }
    }
}
