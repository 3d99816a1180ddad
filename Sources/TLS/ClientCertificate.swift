/// The certificate a client authenticated with, as a request carries it.
///
/// Either verified by Tessera's own handshake on a listener that asks for certificates, or asserted by a
/// trusted proxy that terminated TLS in front of Tessera (RFC 9440 `Client-Cert`, Envoy's
/// `X-Forwarded-Client-Cert`). Fields of the certificate read through: `clientCertificate.thumbprintSHA256`.
@dynamicMemberLookup
public struct ClientCertificate: Sendable, Hashable {
    /// How the certificate reached Tessera.
    public enum Source: Sendable, Hashable {
        /// Presented in Tessera's own TLS handshake.
        case handshake
        /// Passed by a trusted proxy in a header.
        case proxy(ProxyHeader)
    }

    /// The header a trusted proxy used.
    public enum ProxyHeader: String, Sendable, Hashable {
        /// RFC 9440 `Client-Cert` (with `Client-Cert-Chain`).
        case clientCert = "Client-Cert"
        /// Envoy's `X-Forwarded-Client-Cert`.
        case envoy = "X-Forwarded-Client-Cert"
    }

    /// What was checked about the chain.
    public enum Verification: Sendable, Hashable {
        /// The handshake verified the chain to a configured CA, and every certificate's validity.
        case verifiedChain
        /// A self-signed certificate let through for RFC 8705 §2.2; only its validity was checked. It
        /// proves possession of its key, nothing more: the key must match one registered for the client.
        case selfSigned
        /// The proxy says it verified the certificate; Tessera did not. Check `chain` against a trust store
        /// where the decision needs a CA.
        case assertedByProxy
    }

    /// The end-entity certificate.
    public let certificate: X509Certificate
    /// The certificates the client sent after its own (intermediates), in the order sent.
    public let chain: [X509Certificate]
    public let source: Source
    public let verification: Verification

    public init(certificate: X509Certificate, chain: [X509Certificate] = [], source: Source, verification: Verification) {
        self.certificate = certificate
        self.chain = chain
        self.source = source
        self.verification = verification
    }

    /// Whether a proxy, not Tessera's own handshake, supplied the certificate.
    public var isProxySupplied: Bool { if case .proxy = source { true } else { false } }

    public subscript<Value>(dynamicMember keyPath: KeyPath<X509Certificate, Value>) -> Value {
        certificate[keyPath: keyPath]
    }
}
