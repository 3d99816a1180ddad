internal import COpenSSL

/// Compares two byte strings in time that depends only on their lengths (`CRYPTO_memcmp`).
///
/// Lengths are not secret: arrays of different lengths compare unequal immediately, and equal-length
/// arrays are compared without any exit that depends on their contents.
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { left in
        b.withUnsafeBytes { right in
            guard let l = left.baseAddress, let r = right.baseAddress else { return false }
            return CRYPTO_memcmp(l, r, left.count) == 0
        }
    }
}
