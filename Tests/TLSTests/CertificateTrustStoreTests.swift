import Foundation
import Testing
import TLS

@Suite struct CertificateTrustStoreTests {
    func verify(_ file: String, store: String = "root.pem", at date: Date = Date(), dropChain: Bool = false) async throws -> CertificateVerificationResult {
        let pki = try await TestPKI.shared()
        let chain = try X509Certificate.certificates(pem: try pki.bytes(file))
        return try pki.trust(store).verify(chain[0], intermediates: dropChain ? [] : Array(chain.dropFirst()), at: date)
    }

    @Test("A client certificate with its intermediate chains to the root")
    func trusted() async throws {
        #expect(try await verify("client.pem") == .trusted)
    }

    @Test("Refused: missing intermediate, unknown CA, expired, not yet valid, self-signed, server-only EKU, and a time outside validity")
    func rejected() async throws {
        #expect(try await verify("client.pem", dropChain: true) == .rejected(.unknownIssuer))
        #expect(try await verify("client-unknown-ca.pem") == .rejected(.unknownIssuer))
        #expect(try await verify("client-expired.pem") == .rejected(.expired))
        #expect(try await verify("client-future.pem") == .rejected(.notYetValid))
        #expect(try await verify("client-self-signed.pem") == .rejected(.selfSigned))
        #expect(try await verify("client-server-eku.pem") == .rejected(.wrongPurpose))
        #expect(try await verify("client.pem", at: Date().addingTimeInterval(-10 * 86400)) == .rejected(.notYetValid))
        #expect(try await verify("client.pem", at: Date().addingTimeInterval(400 * 86400)) != .trusted)
    }

    @Test("A trust store made from DER anchors verifies like one made from PEM")
    func fromValues() async throws {
        let pki = try await TestPKI.shared()
        let store = try CertificateTrustStore(anchors: X509Certificate.certificates(pem: try pki.bytes("root.pem")))
        let chain = try X509Certificate.certificates(pem: try pki.bytes("client.pem"))
        #expect(store.verify(chain[0], intermediates: [chain[1]]) == .trusted)
        #expect(throws: CertificateParseError.self) { try CertificateTrustStore(anchors: []) }
    }
}
