internal import CLibSSL
import Foundation

/// A set of trust anchors (CA certificates) that client certificates are verified against.
///
/// Used by the handshake of a listener that asks for client certificates, and directly, for a certificate
/// that arrived some other way (a trusted proxy's header, a per-trust-domain bundle).
public final class CertificateTrustStore: @unchecked Sendable {
    /// The `X509_STORE`; libcrypto locks it internally, so concurrent verifications are safe.
    let store: OpaquePointer
    let anchorHandles: [X509Handle]
    /// The trust anchors, in the order given.
    public let anchors: [X509Certificate]

    /// Bounds the work one presented chain can cause: longer chains are refused.
    public static let maximumChainDepth: Int32 = 8

    /// Trust anchors from DER certificates.
    public convenience init(anchors: [X509Certificate]) throws(CertificateParseError) {
        var handles: [X509Handle] = []
        for anchor in anchors {
            guard let handle = X509Handle(der: anchor.der) else { throw CertificateParseError("not a DER X.509 certificate") }
            handles.append(handle)
        }
        try self.init(handles: handles)
    }

    /// Trust anchors from a PEM bundle.
    public convenience init(pem: [UInt8]) throws(CertificateParseError) {
        let handles: [X509Handle]
        do {
            handles = try X509Handle.certificates(pem: pem)
        } catch {
            throw CertificateParseError(error.description)
        }
        try self.init(handles: handles)
    }

    /// Reads a PEM CA bundle file.
    public static func load(file path: String) throws(TLSConfigurationError) -> CertificateTrustStore {
        let pem = try PEMFile.read(path, as: .clientCA)
        do {
            return try CertificateTrustStore(pem: pem)
        } catch {
            throw TLSConfigurationError(.clientCA, path: path, error.description)
        }
    }

    init(handles: [X509Handle]) throws(CertificateParseError) {
        guard !handles.isEmpty else { throw CertificateParseError("no CA certificate") }
        guard let store = X509_STORE_new() else { throw CertificateParseError("out of memory") }
        for handle in handles where X509_STORE_add_cert(store, handle.pointer) != 1 {
            let reason = LibSSL.errorText("cannot add the certificate")
            X509_STORE_free(store)
            throw CertificateParseError(reason)
        }
        X509_STORE_set_depth(store, Self.maximumChainDepth)
        self.store = store
        self.anchorHandles = handles
        self.anchors = handles.map(X509Certificate.init(handle:))
    }

    deinit { X509_STORE_free(store) }

    /// Verifies that `certificate`, with the untrusted `intermediates`, chains to one of the anchors, that
    /// every certificate is valid at `date`, and that the leaf may be used for TLS client authentication.
    public func verify(_ certificate: X509Certificate, intermediates: [X509Certificate] = [], at date: Date = Date()) -> CertificateVerificationResult {
        guard let leaf = X509Handle(der: certificate.der) else { return .rejected(.malformed) }
        let chain = intermediates.compactMap { X509Handle(der: $0.der) }
        guard chain.count == intermediates.count else { return .rejected(.malformed) }
        guard let context = X509_STORE_CTX_new() else { return .rejected(.other) }
        defer { X509_STORE_CTX_free(context) }
        guard let untrusted = OPENSSL_sk_new_null() else { return .rejected(.other) }
        // The stack holds borrowed pointers: `chain` keeps the certificates alive until the end of this call.
        defer { OPENSSL_sk_free(untrusted) }
        for handle in chain where OPENSSL_sk_push(untrusted, UnsafeRawPointer(handle.pointer)) <= 0 {
            return .rejected(.other)
        }
        ERR_clear_error()
        guard X509_STORE_CTX_init(context, store, leaf.pointer, untrusted) == 1 else {
            ERR_clear_error()
            return .rejected(.other)
        }
        X509_STORE_CTX_set_time(context, 0, time_t(date.timeIntervalSince1970))
        X509_STORE_CTX_set_purpose(context, X509_PURPOSE_SSL_CLIENT)
        let status = X509_verify_cert(context)
        let code = X509_STORE_CTX_get_error(context)
        ERR_clear_error()
        return status == 1 ? .trusted : .rejected(CertificateRejection(verifyError: code))
    }
}

/// The outcome of verifying a certificate against a trust store.
public enum CertificateVerificationResult: Sendable, Equatable {
    case trusted
    case rejected(CertificateRejection)
}

/// Why a certificate chain was not accepted.
public enum CertificateRejection: String, Sendable, Hashable {
    /// No chain to a trust anchor (unknown CA, missing intermediate).
    case unknownIssuer = "unknown_issuer"
    /// A self-signed certificate that is not itself a trust anchor.
    case selfSigned = "self_signed"
    case expired
    case notYetValid = "not_yet_valid"
    case badSignature = "bad_signature"
    /// Key usage or extended key usage forbid TLS client authentication.
    case wrongPurpose = "wrong_purpose"
    /// The chain is longer than `CertificateTrustStore.maximumChainDepth`.
    case chainTooLong = "chain_too_long"
    case malformed
    case other

    /// Maps an `X509_V_ERR_*` code.
    init(verifyError code: Int32) {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CRL_HAS_EXPIRED: self = .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: self = .notYetValid
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: self = .selfSigned
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            self = .unknownIssuer
        case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
             X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
            self = .badSignature
        case X509_V_ERR_INVALID_PURPOSE, X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE: self = .wrongPurpose
        case X509_V_ERR_CERT_CHAIN_TOO_LONG: self = .chainTooLong
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: self = .malformed
        default: self = .other
        }
    }
}

extension CertificateTrustStore {
    /// Whether `certificate`'s signature verifies under one of the anchors' keys (no other checks).
    func isSignedByAnchor(_ certificate: X509Certificate) -> Bool {
        guard let handle = X509Handle(der: certificate.der) else { return false }
        defer { ERR_clear_error() }
        for anchor in anchorHandles {
            guard let key = X509_get0_pubkey(anchor.pointer) else { continue }
            if X509_verify(handle.pointer, key) == 1 { return true }
        }
        return false
    }
}
