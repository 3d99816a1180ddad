import Foundation
import Testing
@testable import JOSE

@Suite struct JWKTests {
    @Test("RFC 7638 §3.1: thumbprint of the example RSA key")
    func rfc7638Example() throws {
        let jwk = JWK(kty: "RSA", kid: "2011-04-29", alg: "RS256", n: RFCVectors.rfc7638N, e: "AQAB")
        #expect(try jwk.thumbprint() == RFCVectors.rfc7638Thumbprint)
    }

    @Test("RFC 7638 §3.2: only required members, in lexicographic order, without whitespace")
    func thumbprintInput() throws {
        let ec = JWK(kty: "EC", kid: "k", use: "sig", alg: "ES256", crv: "P-256", x: "X", y: "Y")
        #expect(try ec.thumbprintInput() == #"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#)
        let rsa = JWK(kty: "RSA", kid: "k", use: "sig", n: "N", e: "E")
        #expect(try rsa.thumbprintInput() == #"{"e":"E","kty":"RSA","n":"N"}"#)
        #expect(throws: KeyError.invalidMember("y")) { try JWK(kty: "EC", crv: "P-256", x: "X").thumbprint() }
        #expect(throws: KeyError.unsupportedKeyType("oct")) { try JWK(kty: "oct").thumbprint() }
    }

    @Test("A signing key's kid is the RFC 7638 thumbprint of its public JWK")
    func kidIsThumbprint() throws {
        for algorithm in JWSAlgorithm.allCases {
            let key = try SigningKey.generate(algorithm)
            var stripped = key.publicJWK
            stripped.kid = nil
            stripped.alg = nil
            stripped.use = nil
            #expect(key.kid == (try stripped.thumbprint()))
            #expect(key.publicJWK.kid == key.kid)
            #expect(key.publicJWK.alg == algorithm.rawValue)
            #expect(key.publicJWK.use == "sig")
            #expect(key.verificationKey.kid == key.kid)
        }
    }

    @Test("Exported JWKs contain only public members (RFC 7517 §9.2)")
    func exportHasNoPrivateMembers() throws {
        for algorithm in JWSAlgorithm.allCases {
            let key = try SigningKey.generate(algorithm)
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(JWKS(keys: [key.publicJWK]))) as? [String: Any]
            let exported = try #require((json?["keys"] as? [[String: Any]])?.first)
            let allowed: Set<String> = algorithm == .rs256 ? ["kty", "kid", "use", "alg", "n", "e"] : ["kty", "kid", "use", "alg", "crv", "x", "y"]
            #expect(Set(exported.keys) == allowed)
        }
    }

    @Test("Private members in an imported JWK are ignored and never exported")
    func importIgnoresPrivateMembers() throws {
        let json = #"{"kty":"EC","crv":"P-256","x":"\#(RFCVectors.a3X)","y":"\#(RFCVectors.a3Y)","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#
        let jwk = try JSONDecoder().decode(JWK.self, from: Data(json.utf8))
        let key = try VerificationKey(jwk: jwk)
        let exported = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
        #expect(!exported.contains("\"d\""))
        #expect(!exported.contains("jpsQnn"))
    }

    @Test("A public JWK round-trips through VerificationKey with the same thumbprint")
    func importExport() throws {
        for algorithm in JWSAlgorithm.allCases {
            let signing = try SigningKey.generate(algorithm)
            let imported = try VerificationKey(jwk: signing.publicJWK)
            #expect(imported.publicJWK == signing.publicJWK)
            #expect(imported.kid == signing.kid)
            #expect(imported.algorithm == algorithm)
            let message = Array("hello".utf8)
            #expect(imported.verify(signature: try signing.sign(message), message: message))
        }
    }

    @Test("A JWK without kid gets its thumbprint as kid; alg is inferred from kty when absent")
    func kidAndAlgDefaults() throws {
        let key = try VerificationKey(jwk: JWK(kty: "RSA", n: RFCVectors.rfc7638N, e: "AQAB"))
        #expect(key.kid == RFCVectors.rfc7638Thumbprint)
        #expect(key.algorithm == .rs256)
        let named = try VerificationKey(jwk: JWK(kty: "EC", kid: "client-key-1", crv: "P-256", x: RFCVectors.a3X, y: RFCVectors.a3Y))
        #expect(named.kid == "client-key-1")
        #expect(named.algorithm == .es256)
    }

    @Test("JWK import refuses inconsistent alg, other key types and curves, and bad members")
    func importRejections() throws {
        let x = RFCVectors.a3X, y = RFCVectors.a3Y
        #expect(throws: KeyError.algorithmMismatch("ES256")) { try VerificationKey(jwk: JWK(kty: "RSA", alg: "ES256", n: RFCVectors.rfc7638N, e: "AQAB")) }
        #expect(throws: KeyError.algorithmMismatch("PS256")) { try VerificationKey(jwk: JWK(kty: "RSA", alg: "PS256", n: RFCVectors.rfc7638N, e: "AQAB")) }
        #expect(throws: KeyError.algorithmMismatch("RS256")) { try VerificationKey(jwk: JWK(kty: "EC", alg: "RS256", crv: "P-256", x: x, y: y)) }
        #expect(throws: KeyError.algorithmMismatch("HS256")) { try VerificationKey(jwk: JWK(kty: "EC", alg: "HS256", crv: "P-256", x: x, y: y)) }
        #expect(throws: KeyError.unsupportedKeyType("oct")) { try VerificationKey(jwk: JWK(kty: "oct", alg: "HS256")) }
        #expect(throws: KeyError.unsupportedKeyType("OKP")) { try VerificationKey(jwk: JWK(kty: "OKP", crv: "Ed25519", x: x)) }
        #expect(throws: KeyError.unsupportedCurve("P-384")) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-384", x: x, y: y)) }
        #expect(throws: KeyError.invalidMember("use")) { try VerificationKey(jwk: JWK(kty: "EC", use: "enc", crv: "P-256", x: x, y: y)) }
        #expect(throws: KeyError.invalidMember("y")) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: x)) }
        #expect(throws: KeyError.invalidMember("x")) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: x + "A", y: y)) }
        #expect(throws: KeyError.invalidMember("x")) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: String(x.dropLast(2)), y: y)) }
        #expect(throws: KeyError.invalidMember("n")) { try VerificationKey(jwk: JWK(kty: "RSA", e: "AQAB")) }
        // RFC 7518 §2: Base64urlUInt must not carry a leading zero octet.
        #expect(throws: KeyError.invalidMember("n")) { try VerificationKey(jwk: JWK(kty: "RSA", n: "AA" + RFCVectors.rfc7638N, e: "AQAB")) }
        #expect(throws: KeyError.invalidMember("e")) { try VerificationKey(jwk: JWK(kty: "RSA", n: RFCVectors.rfc7638N, e: "AAEAAQ")) }
        #expect(throws: KeyError.unsupportedKeySize(1024)) {
            try VerificationKey(jwk: JWK(kty: "RSA", n: Base64URL.encode([0xC1] + [UInt8](repeating: 0x35, count: 127)), e: "AQAB"))
        }
    }

    @Test("An EC public key that is not on P-256 is refused")
    func offCurvePoint() throws {
        var y = try #require(Base64URL.decode(RFCVectors.a3Y))
        y[31] ^= 1
        #expect(throws: KeyError.invalidKey) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: RFCVectors.a3X, y: Base64URL.encode(y))) }
        let p = Base64URL.encode(ECDSASignature.p256Prime)
        #expect(throws: KeyError.invalidMember("x")) { try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: p, y: RFCVectors.a3Y)) }
    }

    @Test("JWKS encodes as {\"keys\":[…]} and decodes back")
    func jwksCoding() throws {
        let set = JWKS(keys: [try SigningKey.generate(.es256).publicJWK, try SigningKey.generate(.rs256).publicJWK])
        let data = try JSONEncoder().encode(set)
        #expect(try JSONDecoder().decode(JWKS.self, from: data) == set)
        #expect(String(decoding: data, as: UTF8.self).hasPrefix(#"{"keys":["#))
    }
}
