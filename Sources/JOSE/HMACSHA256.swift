internal import COpenSSL

/// HMAC-SHA-256 (RFC 2104, FIPS 198-1).
public enum HMACSHA256 {
    /// The tag length in bytes.
    public static let tagLength = 32

    /// Returns the 32-byte HMAC-SHA-256 of `message` under `key`; any key length is accepted.
    public static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        // A key longer than Int32.max bytes cannot be passed to HMAC(); no caller holds such a key.
        guard key.count <= Int(Int32.max) else { openSSLInvariantFailure("HMAC(SHA-256): key too long") }
        var tag = [UInt8](repeating: 0, count: tagLength)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBufferPointer { messageBytes in
                tag.withUnsafeMutableBufferPointer { out in
                    // `HMAC` substitutes its own non-NULL pointer for an empty key, so a nil base address is fine.
                    HMAC(FetchedAlgorithms.shared.sha256, keyBytes.baseAddress, Int32(keyBytes.count),
                         messageBytes.baseAddress, messageBytes.count, out.baseAddress, &length)
                }
            }
        }
        guard result != nil, length == UInt32(tagLength) else {
            openSSLInvariantFailure("HMAC(SHA-256)")
        }
        return tag
    }
}
