internal import COpenSSL

/// Algorithm implementations fetched from OpenSSL's default provider once per process.
///
/// OpenSSL 3 looks an algorithm up in its provider store on every use of the legacy `EVP_sha256()` style
/// constants ("implicit fetch"), which costs a locked table search per call; fetching once and reusing the
/// result is the documented fast path. The fetched objects are immutable and reference-counted internally,
/// so sharing them between threads is safe, which is why this class is `@unchecked Sendable`. They are never
/// freed: they live as long as the process.
final class FetchedAlgorithms: @unchecked Sendable {
    /// `EVP_MD *` for SHA-256.
    let sha256: OpaquePointer
    /// `EVP_CIPHER *` for AES-256-GCM.
    let aes256GCM: OpaquePointer

    static let shared = FetchedAlgorithms()

    private init() {
        // If the explicit fetch fails (it should not with the default provider), the static constants still
        // work, only more slowly.
        sha256 = EVP_MD_fetch(nil, "SHA256", nil) ?? EVP_sha256()
        aes256GCM = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) ?? EVP_aes_256_gcm()
        ERR_clear_error()
    }
}
