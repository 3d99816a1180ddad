internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`).
public enum SecureRandom {
    /// How many times a failed `RAND_bytes` call is retried before the process stops.
    private static let attempts = 3

    /// Returns `count` random bytes.
    ///
    /// `RAND_bytes` fails only when the DRBG cannot be seeded from the operating system or cannot allocate;
    /// no argument value makes it fail. Handing out predictable bytes for keys, nonces or tokens would be a
    /// silent security failure, so after retrying the process stops instead. `count` must not be negative.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count")
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        out.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let chunk = min(buffer.count - offset, Int(Int32.max))
                var filled = false
                for _ in 0..<attempts where !filled {
                    filled = RAND_bytes(base + offset, Int32(chunk)) == 1
                }
                guard filled else { openSSLInvariantFailure("RAND_bytes") }
                offset += chunk
            }
        }
        return out
    }
}
