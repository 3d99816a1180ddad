/// Base64url encoding without padding (RFC 7515 §2, RFC 4648 §5), with a strict decoder.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// 0...63 for alphabet bytes, 0xFF for every other byte.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    /// Encodes bytes as base64url with no `=` padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { input in
            String(unsafeUninitializedCapacity: encodedLength(input.count)) { out in
                encode(input, into: out)
            }
        }
    }

    /// The length of the unpadded base64url encoding of `count` bytes.
    static func encodedLength(_ count: Int) -> Int {
        (count * 4 + 2) / 3
    }

    /// Writes the unpadded base64url encoding of `input` at the start of `out`, which must hold at least
    /// `encodedLength(input.count)` bytes; returns the number of bytes written.
    @discardableResult
    static func encode(_ input: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        precondition(out.count >= encodedLength(input.count), "base64url output buffer too small")
        return alphabet.withUnsafeBufferPointer { alphabet in
            var index = 0, written = 0
            while index + 3 <= input.count {
                let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                out[written] = alphabet[Int(chunk >> 18 & 63)]
                out[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                out[written + 2] = alphabet[Int(chunk >> 6 & 63)]
                out[written + 3] = alphabet[Int(chunk & 63)]
                index += 3
                written += 4
            }
            let remaining = input.count - index
            if remaining > 0 {
                var chunk = UInt32(input[index]) << 16
                if remaining == 2 { chunk |= UInt32(input[index + 1]) << 8 }
                out[written] = alphabet[Int(chunk >> 18 & 63)]
                out[written + 1] = alphabet[Int(chunk >> 12 & 63)]
                written += 2
                if remaining == 2 {
                    out[written] = alphabet[Int(chunk >> 6 & 63)]
                    written += 1
                }
            }
            return written
        }
    }

    /// Encodes the UTF-8 bytes of a string as base64url with no padding.
    public static func encode(_ s: String) -> String {
        encode(Array(s.utf8))
    }

    /// Decodes unpadded base64url, or returns nil.
    ///
    /// Rejects anything a conforming encoder would not have produced, so that each byte string has exactly
    /// one accepted encoding: `=` padding, the standard alphabet's `+` and `/`, whitespace or any other byte,
    /// a length of 1 modulo 4, and non-zero unused bits in the last character (RFC 4648 §3.5: "decoders
    /// MAY chose to reject an encoding if the pad bits have not been set to zero").
    public static func decode(_ s: String) -> [UInt8]? {
        var input = s
        return input.withUTF8 { decode(utf8: $0) }
    }

    static func decode(utf8 input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let remainder = input.count % 4
        if remainder == 1 { return nil }
        return decodeTable.withUnsafeBufferPointer { table in
            decode(utf8: input, table: table)
        }
    }

    private static func decode(utf8 input: UnsafeBufferPointer<UInt8>, table: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let remainder = input.count % 4
        let fullEnd = input.count - remainder
        let outputLength = fullEnd / 4 * 3 + (remainder == 0 ? 0 : remainder - 1)
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: outputLength) { out, initialized in
            var index = 0, written = 0
            while index < fullEnd {
                let a = table[Int(input[index])], b = table[Int(input[index + 1])]
                let c = table[Int(input[index + 2])], d = table[Int(input[index + 3])]
                if (a | b | c | d) & 0xC0 != 0 { valid = false; return }
                let chunk = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out[written] = UInt8(truncatingIfNeeded: chunk >> 16)
                out[written + 1] = UInt8(truncatingIfNeeded: chunk >> 8)
                out[written + 2] = UInt8(truncatingIfNeeded: chunk)
                index += 4
                written += 3
            }
            switch remainder {
            case 2:
                let a = table[Int(input[index])], b = table[Int(input[index + 1])]
                if (a | b) & 0xC0 != 0 { valid = false; return }
                // Only the top 2 bits of the second character carry data; the low 4 must be zero.
                if b & 0x0F != 0 { valid = false; return }
                out[written] = a << 2 | b >> 4
                written += 1
            case 3:
                let a = table[Int(input[index])], b = table[Int(input[index + 1])], c = table[Int(input[index + 2])]
                if (a | b | c) & 0xC0 != 0 { valid = false; return }
                // Only the top 4 bits of the third character carry data; the low 2 must be zero.
                if c & 0x03 != 0 { valid = false; return }
                out[written] = a << 2 | b >> 4
                out[written + 1] = (b & 0x0F) << 4 | c >> 2
                written += 2
            default:
                break
            }
            initialized = written
        }
        return valid ? out : nil
    }
}
