internal import CLibSSL
#if canImport(Glibc)
import Glibc
#endif

/// Why a handshake failed, from a fixed set (a metric label and a log field).
public enum TLSHandshakeFailure: String, Sendable, Hashable, CaseIterable {
    /// The bytes were not a TLS handshake (plain HTTP, garbage, a malformed record).
    case notTLS = "not_tls"
    /// The client offered only SSLv3, TLS 1.0 or TLS 1.1.
    case protocolVersion = "protocol_version"
    /// No cipher suite, group or signature algorithm in common.
    case noSharedCipher = "no_shared_cipher"
    /// The client offered ALPN protocols, none of them `http/1.1`.
    case noApplicationProtocol = "no_application_protocol"
    /// The listener requires a client certificate and none was sent.
    case noClientCertificate = "no_client_certificate"
    /// The client certificate does not chain to a configured CA.
    case clientCertificateUnknownIssuer = "client_certificate_unknown_issuer"
    case clientCertificateExpired = "client_certificate_expired"
    /// A self-signed client certificate where only CA-issued ones are accepted.
    case clientCertificateSelfSigned = "client_certificate_self_signed"
    /// Any other verification failure of the client certificate (signature, purpose, not yet valid, …).
    case clientCertificateRejected = "client_certificate_rejected"
    /// The client sent an alert (it did not accept the server certificate, for example).
    case peerAlert = "peer_alert"
    /// The connection ended mid-handshake.
    case peerClosed = "peer_closed"
    /// The handshake took longer than its deadline (decided by the caller, not by the session).
    case timeout
    case other
}

/// The state after a step of the handshake.
public enum TLSHandshakeResult: Sendable, Equatable {
    case complete
    /// Call again when the socket is readable (or, in memory mode, after `receive`).
    case wantRead
    /// Call again when the socket is writable (or, in memory mode, after `takeOutput`).
    case wantWrite
    case failed(TLSHandshakeFailure)
}

public enum TLSReadResult: Sendable, Equatable {
    /// This many plaintext bytes were read.
    case bytes(Int)
    case wantRead
    case wantWrite
    /// The peer ended the session (close_notify, or end of input).
    case closed
    /// A protocol or socket error; the connection is unusable.
    case failed
}

public enum TLSWriteResult: Sendable, Equatable {
    /// This many plaintext bytes were accepted (possibly fewer than offered).
    case wrote(Int)
    /// Retry with the same bytes when readable / writable.
    case wantRead
    case wantWrite
    case failed
}

public enum TLSShutdownResult: Sendable, Equatable {
    /// close_notify is sent (or there was no session to close).
    case complete
    /// Call again when the socket is writable.
    case wantWrite
    case failed
}

/// One server-side TLS session, driven by its owner and never blocking.
///
/// Over a socket (`init(context:socket:)`), the session reads and writes the non-blocking descriptor itself
/// and reports `wantRead`/`wantWrite` when the descriptor would block; the owner waits for that readiness
/// and calls again. In memory (`init(context:)`), the owner moves ciphertext: `receive` what arrived,
/// `takeOutput` what must be sent.
///
/// Decrypted bytes may stay buffered inside the session after the socket is drained, so an owner reads
/// until `wantRead` rather than waiting for the descriptor to become readable again.
///
/// Not thread-safe: one owner (an event loop thread) drives it.
public final class TLSSession {
    public let context: TLSServerContext
    let ssl: OpaquePointer
    /// The memory BIOs in memory mode (owned by `ssl`).
    private let memoryInput: OpaquePointer?
    private let memoryOutput: OpaquePointer?

    public private(set) var isHandshakeComplete = false
    /// OpenSSL's text for the last failure, for a debug log line (never sent to the client).
    public private(set) var lastErrorDetail: String?
    /// The verified client certificate, read once when the handshake completes.
    public private(set) var clientCertificate: ClientCertificate?

    /// A session that reads and writes the non-blocking socket `fd` (which it never closes).
    public init(context: TLSServerContext, socket fd: Int32) throws(TLSSessionError) {
        guard let ssl = SSL_new(context.context) else { throw TLSSessionError(LibSSL.errorText("SSL_new failed")) }
        guard let bio = SocketBIO.make(fd: fd) else {
            SSL_free(ssl)
            throw TLSSessionError("cannot make the socket BIO")
        }
        SSL_set_bio(ssl, bio, bio)   // one reference each way: BIO_up_ref is not needed when rbio == wbio
        SSL_set_accept_state(ssl)
        self.context = context
        self.ssl = ssl
        self.memoryInput = nil
        self.memoryOutput = nil
    }

    /// A session whose ciphertext the owner moves with `receive` and `takeOutput`.
    public init(context: TLSServerContext) throws(TLSSessionError) {
        guard let ssl = SSL_new(context.context) else { throw TLSSessionError(LibSSL.errorText("SSL_new failed")) }
        guard let input = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSSessionError("cannot make a memory BIO")
        }
        guard let output = BIO_new(BIO_s_mem()) else {
            BIO_free(input)
            SSL_free(ssl)
            throw TLSSessionError("cannot make a memory BIO")
        }
        SSL_set_bio(ssl, input, output)
        SSL_set_accept_state(ssl)
        self.context = context
        self.ssl = ssl
        self.memoryInput = input
        self.memoryOutput = output
    }

    deinit { SSL_free(ssl) }

    // MARK: Memory mode

    /// Hands received ciphertext to a memory-mode session.
    public func receive(_ bytes: [UInt8]) {
        guard let memoryInput, !bytes.isEmpty else { return }
        _ = bytes.withUnsafeBytes { BIO_write(memoryInput, $0.baseAddress, Int32(clamping: $0.count)) }
    }

    /// Tells a memory-mode session that no more ciphertext will arrive.
    public func receiveEndOfInput() {
        guard let memoryInput else { return }
        // BIO_set_mem_eof_return(bio, 0): an empty buffer now reads as end of file instead of "retry".
        BIO_ctrl(memoryInput, BIO_C_SET_BUF_MEM_EOF_RETURN, 0, nil)
    }

    /// Takes the ciphertext a memory-mode session has produced.
    public func takeOutput() -> [UInt8] {
        guard let memoryOutput else { return [] }
        let pending = Int(BIO_ctrl_pending(memoryOutput))
        guard pending > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: pending)
        let read = bytes.withUnsafeMutableBytes { BIO_read(memoryOutput, $0.baseAddress, Int32(clamping: pending)) }
        return read > 0 ? Array(bytes.prefix(Int(read))) : []
    }

    // MARK: Handshake

    /// Advances the handshake.
    public func handshake() -> TLSHandshakeResult {
        if isHandshakeComplete { return .complete }
        ERR_clear_error()
        errno = 0
        let status = SSL_do_handshake(ssl)
        if status == 1 {
            isHandshakeComplete = true
            clientCertificate = readClientCertificate()
            ERR_clear_error()
            return .complete
        }
        let error = SSL_get_error(ssl, status)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default: return .failed(classifyFailure(error))
        }
    }

    private func classifyFailure(_ error: Int32) -> TLSHandshakeFailure {
        let queued = LibSSL.takeError()
        lastErrorDetail = queued?.text ?? (errno != 0 ? String(cString: strerror(errno)) : "connection closed")
        guard error == SSL_ERROR_SSL, let queued else { return .peerClosed }
        switch queued.reason {
        case SSL_R_HTTP_REQUEST, SSL_R_HTTPS_PROXY_REQUEST, SSL_R_WRONG_VERSION_NUMBER, SSL_R_UNKNOWN_PROTOCOL,
             SSL_R_PACKET_LENGTH_TOO_LONG, SSL_R_BAD_PACKET_LENGTH, SSL_R_RECORD_LENGTH_MISMATCH, SSL_R_LENGTH_MISMATCH,
             SSL_R_UNEXPECTED_MESSAGE, SSL_R_UNEXPECTED_RECORD, SSL_R_BAD_RECORD_TYPE:
            return .notTLS
        case SSL_R_UNSUPPORTED_PROTOCOL, SSL_R_VERSION_TOO_LOW, SSL_R_NO_PROTOCOLS_AVAILABLE:
            return .protocolVersion
        case SSL_R_NO_SHARED_CIPHER, SSL_R_NO_SHARED_GROUPS, SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
            return .noSharedCipher
        case SSL_R_NO_APPLICATION_PROTOCOL:
            return .noApplicationProtocol
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            return .noClientCertificate
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            switch CertificateRejection(verifyError: Int32(truncatingIfNeeded: SSL_get_verify_result(ssl))) {
            case .unknownIssuer: return .clientCertificateUnknownIssuer
            case .expired: return .clientCertificateExpired
            case .selfSigned: return .clientCertificateSelfSigned
            default: return .clientCertificateRejected
            }
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return .peerClosed
        default:
            // SSL_AD_REASON_OFFSET: reasons from 1000 up are alerts received from the peer.
            return queued.reason >= 1000 ? .peerAlert : .other
        }
    }

    private func readClientCertificate() -> ClientCertificate? {
        guard context.clientCertificates != nil, let peer = SSL_get0_peer_certificate(ssl) else { return nil }
        let leaf = X509Certificate(handle: X509Handle(retaining: peer))
        var chain: [X509Certificate] = []
        // On the server side the peer chain does not include the leaf; skip it anyway if it appears.
        if let stack = SSL_get_peer_cert_chain(ssl) {
            for index in 0..<max(OPENSSL_sk_num(stack), 0) {
                guard let element = OPENSSL_sk_value(stack, index) else { continue }
                let certificate = X509Certificate(handle: X509Handle(retaining: OpaquePointer(element)))
                if certificate != leaf { chain.append(certificate) }
            }
        }
        let verification: ClientCertificate.Verification =
            SSL_get_verify_result(ssl) == X509_V_OK ? .verifiedChain : .selfSigned
        return ClientCertificate(certificate: leaf, chain: chain, source: .handshake, verification: verification)
    }

    // MARK: Application data

    /// Reads decrypted bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TLSReadResult {
        guard buffer.count > 0 else { return .bytes(0) }
        ERR_clear_error()
        errno = 0
        var count = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 { return .bytes(count) }
        let error = SSL_get_error(ssl, 0)
        switch error {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL where errno == 0:
            ERR_clear_error()
            return .closed
        default:
            lastErrorDetail = LibSSL.errorText(errno != 0 ? String(cString: strerror(errno)) : "TLS error")
            return .failed
        }
    }

    /// Encrypts and sends (or, in memory mode, queues) bytes from `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) -> TLSWriteResult {
        guard bytes.count > 0 else { return .wrote(0) }
        ERR_clear_error()
        errno = 0
        var count = 0
        if SSL_write_ex(ssl, bytes.baseAddress, bytes.count, &count) == 1 { return .wrote(count) }
        switch SSL_get_error(ssl, 0) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            lastErrorDetail = LibSSL.errorText(errno != 0 ? String(cString: strerror(errno)) : "TLS error")
            return .failed
        }
    }

    /// Plaintext already decrypted and waiting in the session.
    public var bufferedPlaintextCount: Int { Int(SSL_pending(ssl)) }

    /// Sends close_notify (RFC 8446 §6.1) without waiting for the peer's.
    public func shutdown() -> TLSShutdownResult {
        guard isHandshakeComplete else { return .complete }
        ERR_clear_error()
        let status = SSL_shutdown(ssl)
        if status >= 0 { return .complete }
        let error = SSL_get_error(ssl, status)
        ERR_clear_error()
        switch error {
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        // Waiting for the peer's close_notify is not required to close (RFC 8446 §6.1).
        case SSL_ERROR_WANT_READ: return .complete
        default: return .failed
        }
    }

    // MARK: Negotiated parameters

    /// `TLSv1.2` or `TLSv1.3`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The cipher suite's OpenSSL name.
    public var cipherSuite: String? {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// The ALPN protocol agreed, if the client offered ALPN.
    public var applicationProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Whether the handshake resumed an earlier session (from a ticket).
    public var isResumed: Bool { SSL_session_reused(ssl) == 1 }
}

/// A session could not be made (out of memory).
public struct TLSSessionError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
