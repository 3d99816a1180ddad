internal import CLibSSL
import Foundation

/// Whether and how a listener asks for client certificates.
public struct ClientCertificatePolicy: Sendable {
    /// The CAs a client certificate must chain to; their names are sent in the CertificateRequest.
    public var trust: CertificateTrustStore
    /// Whether a handshake without a client certificate fails. When false the certificate is requested,
    /// and a connection without one proceeds (with no certificate on its requests).
    public var isRequired: Bool
    /// Whether a self-signed certificate that is not a trust anchor is accepted (and marked `.selfSigned`),
    /// for RFC 8705 §2.2 `self_signed_tls_client_auth`. Its validity period is still checked.
    public var acceptsSelfSigned: Bool

    public init(trust: CertificateTrustStore, isRequired: Bool = false, acceptsSelfSigned: Bool = false) {
        self.trust = trust
        self.isRequired = isRequired
        self.acceptsSelfSigned = acceptsSelfSigned
    }
}

/// A server TLS configuration: TLS 1.2 and 1.3 only, Mozilla's "intermediate" cipher policy, ALPN
/// `http/1.1`, renegotiation off, stateless session tickets under rotating keys, and optionally client
/// certificates.
///
/// Immutable once made and safe to share between threads; every new connection takes a session from it.
/// Replacing a certificate means making a new context: connections keep the one they started with.
public final class TLSServerContext: @unchecked Sendable {
    let context: OpaquePointer
    /// The server certificates (one per key type, at most one RSA and one ECDSA).
    public let credentials: [TLSCredentials]
    public let clientCertificates: ClientCertificatePolicy?
    /// Held so the pointer in the context's extra data stays valid.
    let ticketKeys: TLSTicketKeys

    /// Mozilla "intermediate" (version 5.7): the TLS 1.2 suites with forward secrecy and AEAD only.
    /// TLS 1.3 uses OpenSSL's default suites (AES-GCM and ChaCha20-Poly1305), which are the same policy.
    public static let tls12CipherList = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")
    /// Mozilla "intermediate" key exchange groups.
    public static let groups = "X25519:prime256v1:secp384r1"
    /// The only application protocol spoken (RFC 7301).
    public static let applicationProtocol = "http/1.1"

    /// Builds a context serving `credentials` (one chain, or an RSA and an ECDSA chain to serve both kinds of client).
    public init(credentials: [TLSCredentials], clientCertificates: ClientCertificatePolicy? = nil, ticketKeys: TLSTicketKeys = .shared) throws(TLSConfigurationError) {
        guard !credentials.isEmpty else { throw TLSConfigurationError(.certificate, "no certificate") }
        guard let method = TLS_server_method(), let context = SSL_CTX_new(method) else {
            throw TLSConfigurationError(.certificate, LibSSL.errorText("SSL_CTX_new failed"))
        }
        self.context = context
        self.credentials = credentials
        self.clientCertificates = clientCertificates
        self.ticketKeys = ticketKeys
        // From here `deinit` frees the context on every failure below.
        try configure()
    }

    deinit { SSL_CTX_free(context) }

    private func fail(_ input: TLSConfigurationError.Input, _ step: String) -> TLSConfigurationError {
        TLSConfigurationError(input, "\(step): \(LibSSL.errorText("failed"))")
    }

    private func configure() throws(TLSConfigurationError) {
        ERR_clear_error()
        // TLS 1.2 and 1.3 only: SSLv3, TLS 1.0 and 1.1 are refused in the handshake.
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, 0x0303, nil) == 1,
              SSL_CTX_ctrl(context, SSL_CTRL_SET_MAX_PROTO_VERSION, 0x0304, nil) == 1 else {
            throw fail(.certificate, "setting the protocol versions")
        }
        guard SSL_CTX_set_cipher_list(context, Self.tls12CipherList) == 1 else { throw fail(.certificate, "setting the TLS 1.2 ciphers") }
        guard SSL_CTX_ctrl(context, SSL_CTRL_SET_GROUPS_LIST, 0, UnsafeMutableRawPointer(mutating: Self.groups)) == 1 else {
            throw fail(.certificate, "setting the key exchange groups")
        }
        // DHE suites use the RFC 7919 group matching the certificate's strength.
        SSL_CTX_ctrl(context, SSL_CTRL_SET_DH_AUTO, 1, nil)
        // RFC 5746 secure renegotiation is moot: renegotiation is refused altogether (it lets a client make
        // the server redo expensive handshake work on one connection). Compression is off (CRIME).
        // An end of input without close_notify ends the connection like a close: HTTP/1.1 frames its messages.
        SSL_CTX_set_options(context, LibSSL.optionNoRenegotiation | LibSSL.optionNoCompression | LibSSL.optionIgnoreUnexpectedEOF)
        // Partial writes and a moving buffer suit a non-blocking output queue; buffers are released while
        // a connection is idle so idle keep-alive connections do not pin 34 KiB each.
        SSL_CTX_ctrl(context, SSL_CTRL_MODE, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS), nil)

        for credential in credentials {
            guard SSL_CTX_use_certificate(context, credential.chain[0].pointer) == 1 else {
                throw fail(.certificate, "using the certificate \(credential.certificate.subject)")
            }
            guard SSL_CTX_use_PrivateKey(context, credential.key.pointer) == 1 else {
                throw fail(.privateKey, "using the private key of \(credential.certificate.subject)")
            }
            // SSL_CTX_add1_chain_cert: the chain belongs to the certificate just set.
            for intermediate in credential.chain.dropFirst() where SSL_CTX_ctrl(context, SSL_CTRL_CHAIN_CERT, 1, UnsafeMutableRawPointer(intermediate.pointer)) != 1 {
                throw fail(.certificate, "adding the chain of \(credential.certificate.subject)")
            }
        }
        guard SSL_CTX_check_private_key(context) == 1 else { throw fail(.privateKey, "the private key does not match the certificate") }

        SSL_CTX_set_alpn_select_cb(context, Self.selectApplicationProtocol, nil)

        // Stateless resumption only: no server-side session cache to grow; tickets carry the state.
        SSL_CTX_ctrl(context, SSL_CTRL_SET_SESS_CACHE_MODE, Int(SSL_SESS_CACHE_OFF), nil)
        SSL_CTX_set_timeout(context, Int(ticketKeys.rotationInterval))
        guard SSL_CTX_set_ex_data(context, TLSTicketKeys.contextSlot, Unmanaged.passUnretained(ticketKeys).toOpaque()) == 1,
              SSL_CTX_set_tlsext_ticket_key_evp_cb(context, TLSTicketKeys.callback) == 1 else {
            throw fail(.certificate, "installing the session ticket keys")
        }
        // One ticket per full handshake is enough for HTTP/1.1 clients (OpenSSL's default is two).
        SSL_CTX_set_num_tickets(context, 1)

        // A session resumes only in a context with the same client-certificate trust: the session id context
        // is a digest of the policy and the CA bundle, so after a CA change every client is verified afresh.
        var sessionContext: [UInt8] = Array("tessera".utf8)
        if let policy = clientCertificates {
            sessionContext += [policy.isRequired ? 1 : 0, policy.acceptsSelfSigned ? 1 : 0]
            for anchor in policy.trust.anchors { sessionContext += anchor.der }
        }
        let digest = LibSSL.sha256(sessionContext)
        guard SSL_CTX_set_session_id_context(context, digest, UInt32(digest.count)) == 1 else {
            throw fail(.certificate, "setting the session id context")
        }

        if let policy = clientCertificates {
            SSL_CTX_set1_cert_store(context, policy.trust.store)
            for anchor in policy.trust.anchorHandles where SSL_CTX_add_client_CA(context, anchor.pointer) != 1 {
                throw fail(.clientCA, "naming the CA \(X509Certificate(handle: anchor).subject)")
            }
            var mode = SSL_VERIFY_PEER
            if policy.isRequired { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
            SSL_CTX_set_verify(context, mode, policy.acceptsSelfSigned ? Self.verifyAcceptingSelfSigned : nil)
            SSL_CTX_set_verify_depth(context, CertificateTrustStore.maximumChainDepth)
        } else {
            SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        }
        ERR_clear_error()
    }

    /// The earliest expiry of the server certificates.
    public var certificateExpiry: Date { credentials.map(\.certificate.notAfter).min() ?? .distantPast }

    /// RFC 7301 §3.2: chooses `http/1.1` when the client offers it. A client that offers only other
    /// protocols (`h2` alone) gets the `no_application_protocol` alert the RFC asks for; a client that
    /// offers none proceeds as HTTP/1.1.
    static let selectApplicationProtocol: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?, UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?) -> Int32 = { _, out, outLength, offered, offeredLength, _ in
        guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_ALERT_FATAL }
        let wanted: [UInt8] = Array("http/1.1".utf8)
        var index = 0
        let count = Int(offeredLength)
        while index < count {
            let length = Int(offered[index])
            let start = index + 1
            guard length > 0, start + length <= count else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            if length == wanted.count, (0..<length).allSatisfy({ offered[start + $0] == wanted[$0] }) {
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }

    /// RFC 8705 §2.2: a self-signed client certificate (the only certificate, not a trust anchor) is let
    /// through to be matched against a registered key; every other verification failure still fails the
    /// handshake, including an expired self-signed certificate.
    static let verifyAcceptingSelfSigned: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
        if preverified == 1 { return 1 }
        guard let store else { return 0 }
        if X509_STORE_CTX_get_error(store) == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT && X509_STORE_CTX_get_error_depth(store) == 0 {
            return 1
        }
        return 0
    }
}
