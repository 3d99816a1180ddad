import HTTPServer
import TLS

/// The client certificate a request carries: from Tessera's own mTLS handshake, or from a trusted
/// proxy's `Client-Cert` (RFC 9440) or `X-Forwarded-Client-Cert` (Envoy) header.
///
/// The headers are read only from `TESSERA_TRUSTED_PROXIES`, like `X-Forwarded-For`: anyone else could
/// claim any certificate there. From other peers they are ignored, and the attempt is logged. From a
/// trusted proxy only the headers count: a certificate the proxy itself presented in a handshake with
/// Tessera names the proxy, not its client.
struct ClientCertificateResolver: Sendable {
    let trustedProxies: [IPNetwork]
    let logger: Logger

    static let clientCert = "Client-Cert"
    static let clientCertChain = "Client-Cert-Chain"
    static let envoy = "X-Forwarded-Client-Cert"

    /// The certificate for `request`, given its socket peer (before any `X-Forwarded-For` resolution).
    func resolve(_ request: HTTPRequest) -> ClientCertificate? {
        let certificate = resolveQuietly(request)
        if let certificate {
            logger.debug("client certificate", ["subject": certificate.subject, "x5t#S256": certificate.thumbprintSHA256,
                                                "source": certificate.isProxySupplied ? "proxy" : "handshake"])
        }
        return certificate
    }

    private func resolveQuietly(_ request: HTTPRequest) -> ClientCertificate? {
        let headers = request.headers
        let clientCert = headers.values(for: Self.clientCert)
        let chain = headers.values(for: Self.clientCertChain)
        let envoy = headers.values(for: Self.envoy)
        let forwarded = !clientCert.isEmpty || !chain.isEmpty || !envoy.isEmpty
        let peer = request.remoteAddress
        guard trustedProxies.contains(where: { $0.contains(peer) }) else {
            if forwarded {
                logger.warning("forwarded client certificate ignored: the peer is not a trusted proxy",
                               ["peer": peer, "headers": Self.names(clientCert: clientCert, chain: chain, envoy: envoy)])
            }
            return request.clientCertificate
        }
        guard forwarded else { return nil }
        if !clientCert.isEmpty && !envoy.isEmpty {
            // Two proxies' conventions at once: which one to believe is not knowable, so neither is.
            logger.warning("forwarded client certificate ignored: both Client-Cert and X-Forwarded-Client-Cert", ["peer": peer])
            return nil
        }
        do {
            if !envoy.isEmpty { return try ProxyCertificateHeaders.parseEnvoy(envoy) }
            return try ProxyCertificateHeaders.parseClientCert(clientCert, chain: chain)
        } catch {
            logger.warning("forwarded client certificate ignored: unreadable header", ["peer": peer, "reason": error.reason])
            return nil
        }
    }

    static func names(clientCert: [String], chain: [String], envoy: [String]) -> String {
        var names: [String] = []
        if !clientCert.isEmpty { names.append(Self.clientCert) }
        if !chain.isEmpty { names.append(Self.clientCertChain) }
        if !envoy.isEmpty { names.append(Self.envoy) }
        return names.joined(separator: " ")
    }
}
