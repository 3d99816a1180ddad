internal import CLibSSL

/// Constants and helpers for libssl calls whose C spelling is a macro Swift cannot import.
enum LibSSL {
    // `SSL_OP_BIT(n)` options (ssl.h).
    static let optionIgnoreUnexpectedEOF: UInt64 = 1 << 7
    static let optionNoCompression: UInt64 = 1 << 17
    static let optionNoRenegotiation: UInt64 = 1 << 30

    /// The first entry on this thread's OpenSSL error queue (library, reason, text), then the queue emptied.
    ///
    /// The queue is per thread and shared by every connection an event loop serves, so it is always
    /// drained: a stale entry must never be blamed on a later, unrelated connection.
    static func takeError() -> (library: Int32, reason: Int32, text: String)? {
        let code = ERR_get_error()
        defer { ERR_clear_error() }
        guard code != 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: 256)
        let text = buffer.withUnsafeMutableBufferPointer { pointer -> String in
            guard let base = pointer.baseAddress else { return "error \(code)" }
            ERR_error_string_n(code, base, pointer.count)
            return String(cString: base)
        }
        return (ERR_GET_LIB(code), ERR_GET_REASON(code), text)
    }

    /// The text of the first queued error (or `fallback`), the queue emptied.
    static func errorText(_ fallback: String) -> String {
        takeError()?.text ?? fallback
    }

    /// A new memory BIO holding a copy of `bytes` (the caller frees it with `BIO_free`).
    static func memoryBIO(copying bytes: [UInt8]) -> OpaquePointer? {
        guard bytes.count <= Int(Int32.max), let bio = BIO_new(BIO_s_mem()) else { return nil }
        if !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
            guard written == Int32(bytes.count) else {
                BIO_free(bio)
                return nil
            }
        }
        return bio
    }

    /// SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let status = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { out in
                EVP_Digest(input.baseAddress, input.count, out.baseAddress, &length, EVP_sha256(), nil)
            }
        }
        // SHA-256 of a byte string has no input-dependent failure: only a broken libcrypto fails here.
        precondition(status == 1 && length == 32, "EVP_Digest(SHA-256) failed")
        return digest
    }

    /// Cryptographically secure random bytes.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        // Without a working DRBG there is nothing safe to continue with.
        precondition(status == 1, "RAND_bytes failed")
        return bytes
    }
}
