internal import CLibSSL
#if canImport(Glibc)
import Glibc
#endif

/// Owns one libcrypto `X509` (freed in `deinit`).
final class X509Handle {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    /// Takes a new reference to `pointer` (the caller keeps its own).
    init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// Parses one DER certificate; nil if the bytes are not exactly one certificate.
    convenience init?(der: [UInt8]) {
        guard !der.isEmpty, der.count <= Int(Int32.max) else { return nil }
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            let certificate = d2i_X509(nil, &cursor, buffer.count)
            // Trailing bytes after the certificate mean the input was not one certificate.
            if let certificate, cursor != buffer.baseAddress.map({ $0 + buffer.count }) {
                X509_free(certificate)
                return nil
            }
            return certificate
        }
        ERR_clear_error()
        guard let parsed else { return nil }
        self.init(owning: parsed)
    }

    /// The DER encoding.
    var der: [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(pointer, &out)
        guard length > 0, let out else { return [] }
        defer { CRYPTO_free(out, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }

    /// Every certificate in a PEM text, in order; throws if a block is malformed or there is none.
    static func certificates(pem: [UInt8]) throws(PEMError) -> [X509Handle] {
        guard pem.count <= Int(Int32.max) else { throw .malformed("too large") }
        var result: [X509Handle] = []
        guard let bio = LibSSL.memoryBIO(copying: pem) else { throw .malformed("out of memory") }
        defer { BIO_free(bio) }
        ERR_clear_error()
        while true {
            guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
                // The normal end is "no start line" once every block was read.
                let error = LibSSL.takeError()
                if let error, error.reason == PEM_R_NO_START_LINE, !result.isEmpty { return result }
                if result.isEmpty && (error == nil || error?.reason == PEM_R_NO_START_LINE) { throw .noCertificate }
                throw .malformed(error?.text ?? "unreadable PEM")
            }
            result.append(X509Handle(owning: certificate))
        }
    }
}

/// Owns one libcrypto `EVP_PKEY` (freed in `deinit`).
final class PrivateKeyHandle {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// The first private key in a PEM text (PKCS #8, traditional RSA or EC); encrypted keys are refused.
    static func load(pem: [UInt8]) throws(PEMError) -> PrivateKeyHandle {
        guard pem.count <= Int(Int32.max) else { throw .malformed("too large") }
        guard let bio = LibSSL.memoryBIO(copying: pem) else { throw .malformed("out of memory") }
        defer { BIO_free(bio) }
        ERR_clear_error()
        // A passphrase callback that supplies nothing: an encrypted key fails instead of prompting on a terminal.
        let noPassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in -1 }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, noPassphrase, nil) else {
            let error = LibSSL.takeError()
            if error == nil || error?.reason == PEM_R_NO_START_LINE { throw .noPrivateKey }
            throw .malformed(error?.text ?? "unreadable private key")
        }
        return PrivateKeyHandle(owning: key)
    }

    /// `RSA`, `EC` (with the curve), `Ed25519`, …
    var typeDescription: String {
        if let name = EVP_PKEY_get0_type_name(pointer) { return String(cString: name) }
        return "unknown"
    }
}

/// Why PEM text could not be read.
enum PEMError: Error {
    case noCertificate
    case noPrivateKey
    case malformed(String)
}
