import Foundation
import Testing
import TLS

@Suite struct ProxyCertificateHeadersTests {
    func material() async throws -> (leaf: X509Certificate, intermediate: X509Certificate) {
        let pki = try await TestPKI.shared()
        let chain = try X509Certificate.certificates(pem: try pki.bytes("client.pem"))
        return (chain[0], chain[1])
    }

    func sf(_ certificate: X509Certificate) -> String { ":" + Data(certificate.der).base64EncodedString() + ":" }

    @Test("RFC 9440: Client-Cert and Client-Cert-Chain give the same value as the handshake, marked proxy-supplied")
    func clientCert() async throws {
        let (leaf, intermediate) = try await material()
        let value = try #require(try ProxyCertificateHeaders.parseClientCert([sf(leaf)], chain: [sf(intermediate)]))
        #expect(value.certificate == leaf)
        #expect(value.chain == [intermediate])
        #expect(value.source == .proxy(.clientCert))
        #expect(value.verification == .assertedByProxy)
        #expect(value.isProxySupplied)
        #expect(value.thumbprintSHA256 == leaf.thumbprintSHA256)
        #expect(try ProxyCertificateHeaders.parseClientCert([], chain: [sf(intermediate)]) == nil)
        #expect(try ProxyCertificateHeaders.parseClientCert([sf(leaf)], chain: [])?.chain == [])
    }

    @Test("RFC 8941 details: surrounding spaces, parameters (ignored), a chain over several field lines")
    func structuredFieldDetails() async throws {
        let (leaf, intermediate) = try await material()
        let value = try ProxyCertificateHeaders.parseClientCert(["  \(sf(leaf));a=1;b;c=\"x\\\"y\";d=?1;e=tok/en:x;f=-1.5  "],
                                                                chain: ["\(sf(intermediate));p=:AAAA:", " \(sf(intermediate)) ,\t\(sf(intermediate))"])
        #expect(value?.certificate == leaf)
        #expect(value?.chain.count == 3)
    }

    @Test("Malformed Client-Cert and Client-Cert-Chain are refused")
    func malformed() async throws {
        let (leaf, intermediate) = try await material()
        let base64 = Data(leaf.der).base64EncodedString()
        let badCerts = [
            base64, ":\(base64)", "\(base64):", ":\(base64)::", ":\(base64.dropLast()):", ":\(base64)!:",
            ":\(Data("not a certificate".utf8).base64EncodedString()):", "\"\(base64)\"", "(\(sf(leaf)))",
            "\(sf(leaf)), \(sf(leaf))", "\(sf(leaf));A=1", "\(sf(leaf));a=", "\(sf(leaf));a=\"open", "",
        ]
        for text in badCerts {
            #expect(throws: ProxyCertificateHeaderError.self, "\(text.prefix(30))") {
                try ProxyCertificateHeaders.parseClientCert([text], chain: [])
            }
        }
        #expect(throws: ProxyCertificateHeaderError.self) { try ProxyCertificateHeaders.parseClientCert([sf(leaf), sf(leaf)], chain: []) }
        let badChains = ["\(sf(intermediate)),", "\(sf(intermediate)) \(sf(intermediate))", "(\(sf(intermediate)))", "token",
                         Array(repeating: sf(intermediate), count: 9).joined(separator: ","), ":AAAA:"]
        for chain in badChains {
            #expect(throws: ProxyCertificateHeaderError.self, "\(chain.prefix(30))") {
                try ProxyCertificateHeaders.parseClientCert([sf(leaf)], chain: [chain])
            }
        }
    }

    @Test("Every truncation of a Client-Cert value is refused, never misread")
    func truncations() async throws {
        let (leaf, _) = try await material()
        let text = sf(leaf)
        for length in 0..<text.utf8.count {
            let prefix = String(decoding: Array(text.utf8.prefix(length)), as: UTF8.self)
            #expect(throws: ProxyCertificateHeaderError.self) { try ProxyCertificateHeaders.parseClientCert([prefix], chain: []) }
        }
    }

    func urlEncoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
    }

    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test("Envoy X-Forwarded-Client-Cert: the last element's Cert and Chain, with Hash checked, quoted values with escapes")
    func envoy() async throws {
        let (leaf, intermediate) = try await material()
        let pki = try await TestPKI.shared()
        let stranger = try X509Certificate.certificates(pem: try pki.bytes("client-unknown-ca.pem"))[0]
        let hash = try await sha256Hex(leaf.der)
        let first = "By=spiffe://cluster.local/ns/a/sa/front;Cert=\"\(urlEncoded(stranger.pem))\";Subject=\"CN=stranger\""
        let last = "By=spiffe://cluster.local/ns/b/sa/tessera;Hash=\(hash);Cert=\"\(urlEncoded(leaf.pem))\";Chain=\"\(urlEncoded(leaf.pem + intermediate.pem))\";Subject=\"CN=\\\"quoted\\\", O=a;b=c\";URI=spiffe://tessera.test/billing;DNS=billing.example.com;DNS=other.example.com"
        let value = try #require(try ProxyCertificateHeaders.parseEnvoy([first + "," + last]))
        #expect(value.certificate == leaf)
        #expect(value.chain == [intermediate])
        #expect(value.source == .proxy(.envoy))
        #expect(value.verification == .assertedByProxy)
        // The two elements as two field lines read the same.
        #expect(try ProxyCertificateHeaders.parseEnvoy([first, last])?.certificate == leaf)
        #expect(try ProxyCertificateHeaders.parseEnvoy([]) == nil)
        // Unquoted Cert, no Hash, no Chain.
        #expect(try ProxyCertificateHeaders.parseEnvoy(["Cert=\(urlEncoded(leaf.pem))"])?.chain == [])
    }

    @Test("Envoy headers refused: no Cert, a Hash that does not match, garbage Cert, unterminated quotes, pairs without =, too many elements")
    func envoyMalformed() async throws {
        let (leaf, _) = try await material()
        let cert = "Cert=\"\(urlEncoded(leaf.pem))\""
        let cases = [
            "By=spiffe://x;Hash=abcd;Subject=\"CN=x\";URI=spiffe://y",
            "Hash=\(String(repeating: "0", count: 64));\(cert)",
            "Cert=\"not-a-certificate\"",
            "Cert=\"\(urlEncoded(leaf.pem + leaf.pem))\"",
            "Cert=\"\(urlEncoded(leaf.pem))",
            "\(cert);justakey",
            "\(cert)\"trailing\";x=1",
            ",\(cert)",
            Array(repeating: cert, count: 17).joined(separator: ","),
        ]
        for text in cases {
            #expect(throws: ProxyCertificateHeaderError.self, "\(cases.firstIndex(of: text) ?? -1)") { try ProxyCertificateHeaders.parseEnvoy([text]) }
        }
    }

    func sha256Hex(_ bytes: [UInt8]) async throws -> String {
        let result = try await ChildProcess.run("/usr/bin/openssl", ["dgst", "-sha256", "-r"], input: bytes)
        return String(result.output.prefix(64))
    }
}
