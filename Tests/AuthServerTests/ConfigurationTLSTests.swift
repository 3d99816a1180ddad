import Foundation
import HTTPServer
import Synchronization
import Testing
import TLS
@testable import AuthServer

/// TLS settings: the start-up checks name the setting, the mTLS alias URLs, discovery, and which client
/// certificate a request carries (handshake, trusted proxy, or nobody's).
@Suite struct ConfigurationTLSTests {
    /// Development certificates made once per process (a CA, a server certificate, a client certificate),
    /// plus an expired server certificate under a second folder.
    static let certificates: (valid: DevelopmentCertificates.Paths, expired: DevelopmentCertificates.Paths)? = {
        let base = NSTemporaryDirectory() + "tessera-config-tls-\(UUID().uuidString)"
        guard let valid = try? DevelopmentCertificates.prepare(directory: base + "/valid"),
              let expired = try? DevelopmentCertificates.prepare(directory: base + "/expired", now: Date().addingTimeInterval(-200 * 86400)) else { return nil }
        return (valid, expired)
    }()

    func failure(_ environment: [String: String]) -> ConfigurationError? {
        do {
            _ = try Configuration.load(environment: environment)
            return nil
        } catch {
            return error
        }
    }

    @Test("With a certificate the main listener serves https and the default issuer is https; the mTLS listener needs the CA")
    func enabled() throws {
        let paths = try #require(Self.certificates).valid
        let configuration = try Configuration.load(environment: [
            "TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.serverKey,
            "TESSERA_TLS_CLIENT_CA": paths.caCertificate, "TESSERA_MTLS_LISTEN": "127.0.0.1:8444",
        ])
        #expect(configuration.tls.isMainListenerHTTPS)
        #expect(configuration.issuer.url == "https://127.0.0.1:8080")
        #expect(configuration.tls.server?.current.credentials[0].certificate.subject.contains("CN=localhost") == true)
        #expect(configuration.tls.mutual?.current.clientCertificates?.trust.anchors.count == 1)
        #expect(try Configuration.load(environment: [:]).tls.isEnabled == false)
    }

    @Test("Start-up refusals name the setting: a missing file, a lone certificate or key, a key that does not match, an expired certificate, an mTLS listener without CA or certificate")
    func refusals() throws {
        let (paths, expired) = try #require(Self.certificates)
        let cases: [([String: String], String, String?)] = [
            (["TESSERA_TLS_CERT": paths.directory + "/nope.pem", "TESSERA_TLS_KEY": paths.serverKey], "TESSERA_TLS_CERT", "no such file"),
            (["TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.directory + "/nope.key"], "TESSERA_TLS_KEY", "no such file"),
            (["TESSERA_TLS_CERT": paths.serverCertificate], "TESSERA_TLS_KEY", nil),
            (["TESSERA_TLS_KEY": paths.serverKey], "TESSERA_TLS_CERT", nil),
            (["TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.workloadKey], "TESSERA_TLS_KEY", "does not match"),
            (["TESSERA_TLS_CERT": expired.serverCertificate, "TESSERA_TLS_KEY": expired.serverKey], "TESSERA_TLS_CERT", "expired"),
            (["TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.serverKey, "TESSERA_MTLS_LISTEN": "127.0.0.1:8444"], "TESSERA_TLS_CLIENT_CA", nil),
            (["TESSERA_MTLS_LISTEN": "127.0.0.1:8444"], "TESSERA_MTLS_LISTEN", nil),
            (["TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.serverKey, "TESSERA_MTLS_LISTEN": "nowhere"], "TESSERA_MTLS_LISTEN", nil),
            (["TESSERA_TLS_CERT": paths.serverCertificate, "TESSERA_TLS_KEY": paths.serverKey, "TESSERA_TLS_CLIENT_CA": paths.serverKey], "TESSERA_TLS_CLIENT_CA", nil),
        ]
        for (environment, setting, text) in cases {
            let error = failure(environment)
            #expect(error?.setting == setting, "\(environment) → \(error?.description ?? "accepted")")
            if let text { #expect(error?.message.contains(text) == true, "\(error?.description ?? "")") }
            // One line.
            #expect(error?.description.contains("\n") == false)
        }
    }

    @Test("mtls_endpoint_aliases live at the issuer's host on the mTLS port, over https (RFC 8705 §5)")
    func mtlsBaseURL() throws {
        var settings = Configuration.TLSSettings()
        settings.mtlsListen = ListenAddress(host: "0.0.0.0", port: 8444)
        #expect(settings.mtlsBaseURL(issuer: try Issuer(parsing: "https://auth.example.com")) == "https://auth.example.com:8444")
        #expect(settings.mtlsBaseURL(issuer: try Issuer(parsing: "https://auth.example.com:9443/tenant")) == "https://auth.example.com:8444/tenant")
        #expect(settings.mtlsBaseURL(issuer: try Issuer(parsing: "http://[::1]:8080")) == "https://[::1]:8444")
        #expect(settings.mtlsBaseURL(issuer: try Issuer(parsing: "https://auth.example.com"), port: 443) == "https://auth.example.com")
        settings.mtlsListen = nil
        #expect(settings.mtlsBaseURL(issuer: try Issuer(parsing: "https://auth.example.com")) == nil)
    }

    @Test("Discovery publishes mtls_endpoint_aliases only when there is an mTLS listener")
    func discovery() throws {
        let issuer = try Issuer(parsing: "https://auth.example.com")
        let with = try JSONSerialization.jsonObject(with: Data(WellKnownEndpoints.discoveryDocument(issuer: issuer, mtlsBaseURL: "https://auth.example.com:8444"))) as? [String: Any]
        let aliases = with?["mtls_endpoint_aliases"] as? [String: String]
        #expect(aliases?["token_endpoint"] == "https://auth.example.com:8444/token")
        #expect(aliases?["introspection_endpoint"] == "https://auth.example.com:8444/introspect")
        #expect(aliases?["revocation_endpoint"] == "https://auth.example.com:8444/revoke")
        #expect(aliases?["userinfo_endpoint"] == "https://auth.example.com:8444/userinfo")
        let without = try JSONSerialization.jsonObject(with: Data(WellKnownEndpoints.discoveryDocument(issuer: issuer))) as? [String: Any]
        #expect(without?["mtls_endpoint_aliases"] == nil)
    }

    // MARK: Which certificate a request carries

    func certificate(_ file: String) throws -> X509Certificate {
        try X509Certificate.certificates(pem: Array(try Data(contentsOf: URL(fileURLWithPath: file))))[0]
    }

    func resolve(peer: String, headers: [(String, String)], handshake: ClientCertificate? = nil, trusted: [String] = ["10.0.0.0/8"]) throws -> (ClientCertificate?, [String]) {
        let lines = LogLines()
        let logger = Logger(level: .debug, sink: { lines.append($0) })
        let resolver = ClientCertificateResolver(trustedProxies: try trusted.map { try IPNetwork(parsing: $0) }, logger: logger)
        var request = HTTPRequest(method: .GET, target: "/", headers: HTTPHeaders(headers), remoteAddress: peer)
        request.clientCertificate = handshake
        return (resolver.resolve(request), lines.all)
    }

    @Test("RFC 9440 Client-Cert from a trusted proxy becomes the request's certificate, marked proxy-supplied; from anyone else it is ignored and logged")
    func forwardedCertificates() throws {
        let paths = try #require(Self.certificates).valid
        let workload = try certificate(paths.workloadCertificate)
        let header = ":" + Data(workload.der).base64EncodedString() + ":"
        let (fromProxy, _) = try resolve(peer: "10.1.2.3", headers: [("Client-Cert", header)])
        #expect(fromProxy?.certificate == workload)
        #expect(fromProxy?.source == .proxy(.clientCert))
        #expect(fromProxy?.isProxySupplied == true)

        let (forged, log) = try resolve(peer: "192.0.2.9", headers: [("Client-Cert", header)])
        #expect(forged == nil)
        #expect(log.contains { $0.contains("forwarded client certificate ignored") && $0.contains("192.0.2.9") })

        // A direct mTLS client keeps its own certificate even if it also sends a header.
        let own = ClientCertificate(certificate: try certificate(paths.serverCertificate), source: .handshake, verification: .verifiedChain)
        let (direct, _) = try resolve(peer: "192.0.2.9", headers: [("Client-Cert", header)], handshake: own)
        #expect(direct == own)
        // A trusted proxy's own handshake certificate names the proxy, never its client.
        let (proxyOwn, _) = try resolve(peer: "10.1.2.3", headers: [], handshake: own)
        #expect(proxyOwn == nil)
    }

    @Test("Envoy's X-Forwarded-Client-Cert from a trusted proxy; garbage or both conventions at once give no certificate")
    func envoyAndAmbiguity() throws {
        let paths = try #require(Self.certificates).valid
        let workload = try certificate(paths.workloadCertificate)
        let encoded = workload.pem.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let (envoy, _) = try resolve(peer: "10.1.2.3", headers: [("X-Forwarded-Client-Cert", "By=spiffe://x;Cert=\"\(encoded)\"")])
        #expect(envoy?.certificate == workload)
        #expect(envoy?.source == .proxy(.envoy))
        let (garbage, log) = try resolve(peer: "10.1.2.3", headers: [("Client-Cert", ":bm90IGEgY2VydA==:")])
        #expect(garbage == nil)
        #expect(log.contains { $0.contains("unreadable header") })
        let (both, _) = try resolve(peer: "10.1.2.3", headers: [("Client-Cert", ":" + Data(workload.der).base64EncodedString() + ":"),
                                                                 ("X-Forwarded-Client-Cert", "Cert=\"\(encoded)\"")])
        #expect(both == nil)
    }
}

final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
