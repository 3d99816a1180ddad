import Foundation
import Testing
import TLS

@Suite struct X509CertificateTests {
    @Test("A client certificate's fields: RFC 4514 subject and issuer, SANs in order, validity, serial, SPKI, and the x5t#S256 thumbprint (RFC 8705 §3.1)")
    func fields() async throws {
        let pki = try await TestPKI.shared()
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(pki.bytes("expected.json"))) as? [String: Any])
        let certificate = try X509Certificate(der: try pki.bytes("client.der"))

        // Most significant RDN last; `,` `+` escaped, a leading `#` and a trailing space escaped (RFC 4514 §2.4);
        // the multi-valued RDN joined by `+`; emailAddress has no RFC 4514 name, so it is its OID and the
        // hex of its DER value.
        #expect(certificate.subject == ##"1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d,CN=\#billing\+api\ ,UID=svc-7+OU=Payments,O=Example\, Inc.,C=DE"##
            || certificate.subject == ##"1.2.840.113549.1.9.1=#160f6f7073406578616d706c652e636f6d,CN=\#billing\+api\ ,OU=Payments+UID=svc-7,O=Example\, Inc.,C=DE"##)
        #expect(certificate.issuer == expected["issuer"] as? String)
        #expect(certificate.subjectAlternativeNames == [
            .dns("billing.example.com"), .uri("spiffe://tessera.test/billing"),
            .ipAddress("192.0.2.7"), .ipAddress("2001:db8::1"), .email("billing@example.com"),
        ])
        #expect(certificate.dnsNames == ["billing.example.com"])
        #expect(certificate.uris == ["spiffe://tessera.test/billing"])
        #expect(certificate.ipAddresses == ["192.0.2.7", "2001:db8::1"])
        #expect(certificate.emailAddresses == ["billing@example.com"])
        #expect(certificate.thumbprintSHA256 == expected["thumbprint"] as? String)
        #expect(certificate.hasThumbprint(try #require(expected["thumbprint"] as? String)))
        #expect(!certificate.hasThumbprint(String(certificate.thumbprintSHA256.reversed())))
        #expect(!certificate.hasThumbprint(""))
        #expect(certificate.serialNumber.drop(while: { $0 == "0" }) == (expected["serial"] as? String).map { Substring($0) })
        #expect(Int(certificate.notBefore.timeIntervalSince1970) == expected["not_before"] as? Int)
        #expect(Int(certificate.notAfter.timeIntervalSince1970) == expected["not_after"] as? Int)
        #expect(certificate.subjectPublicKeyInfo.map { String(format: "%02x", $0) }.joined() == expected["spki"] as? String)
        #expect(!certificate.isCertificateAuthority)
        #expect(certificate.isValid(at: Date()))
        #expect(!certificate.isValid(at: certificate.notAfter.addingTimeInterval(1)))
    }

    @Test("PEM and DER readings agree, and a chain file yields its certificates in order")
    func pemAndDER() async throws {
        let pki = try await TestPKI.shared()
        let chain = try X509Certificate.certificates(pem: try pki.bytes("client.pem"))
        #expect(chain.count == 2)
        #expect(chain[0] == (try X509Certificate(der: try pki.bytes("client.der"))))
        #expect(chain[1].isCertificateAuthority)
        #expect(chain[1].subject == "O=Tessera Tests,CN=Tessera Test Intermediate CA")
        #expect(try X509Certificate.certificates(pem: Array(chain[0].pem.utf8)) == [chain[0]])
    }

    @Test("Bytes that are not exactly one certificate are refused")
    func malformed() async throws {
        let pki = try await TestPKI.shared()
        let der = try pki.bytes("client.der")
        #expect(throws: CertificateParseError.self) { try X509Certificate(der: []) }
        #expect(throws: CertificateParseError.self) { try X509Certificate(der: Array(der.dropLast())) }
        #expect(throws: CertificateParseError.self) { try X509Certificate(der: der + [0]) }
        #expect(throws: CertificateParseError.self) { try X509Certificate(der: Array("not a certificate".utf8)) }
        #expect(throws: CertificateParseError.self) { try X509Certificate.certificates(pem: Array("no PEM here".utf8)) }
        #expect(throws: CertificateParseError.self) {
            try X509Certificate.certificates(pem: Array("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8))
        }
        // Every truncation of the DER is refused, never misread.
        for length in stride(from: 0, to: der.count, by: 7) {
            #expect(throws: CertificateParseError.self) { try X509Certificate(der: Array(der.prefix(length))) }
        }
    }
}
