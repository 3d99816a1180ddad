import Testing
@testable import JOSE

/// Keys shared by all JWS tests (RSA generation is slow); nil only if key generation itself fails.
private enum Fixtures {
    static let rsa = try? SigningKey.generate(.rs256)
    static let ec = try? SigningKey.generate(.es256)
    static let otherEC = try? SigningKey.generate(.es256)
}

private struct FixtureUnavailable: Error {}

@Suite struct JWSTests {
    let rsa: SigningKey
    let ec: SigningKey
    let otherEC: SigningKey

    init() throws {
        guard let rsa = Fixtures.rsa, let ec = Fixtures.ec, let otherEC = Fixtures.otherEC else { throw FixtureUnavailable() }
        self.rsa = rsa
        self.ec = ec
        self.otherEC = otherEC
    }

    /// Builds a compact JWS with an arbitrary header, signed (over exactly that header) by `key`.
    func forge(header: String, payload: [UInt8] = Array("{}".utf8), signedBy key: SigningKey) throws -> String {
        let input = Base64URL.encode(header) + "." + Base64URL.encode(payload)
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    func expectRejection(_ error: JWSError, _ compact: String, keys: [VerificationKey], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: error, sourceLocation: sourceLocation) { try JWS.verify(compact, keys: keys) }
    }

    // MARK: RFC vectors

    @Test("RFC 7515 A.2: the RS256 example verifies with the example key")
    func a2Verifies() throws {
        let key = try VerificationKey(jwk: JWK(kty: "RSA", n: RFCVectors.a2N, e: RFCVectors.a2E))
        let verified = try JWS.verify(RFCVectors.a2JWS, keys: [key])
        #expect(verified.header.alg == "RS256")
        #expect(verified.header.kid == nil)
        #expect(String(decoding: verified.payload, as: UTF8.self).hasPrefix("{\"iss\":\"joe\",\r\n"))
    }

    @Test("RFC 7515 A.3: the ES256 example verifies with the example key")
    func a3Verifies() throws {
        let key = try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: RFCVectors.a3X, y: RFCVectors.a3Y))
        let verified = try JWS.verify(RFCVectors.a3JWS, keys: [key])
        #expect(verified.header.alg == "ES256")
        #expect(verified.key === key)
    }

    @Test("RFC 7515 A.2 and A.3 with one changed signature bit do not verify")
    func vectorsTampered() throws {
        let rsaKey = try VerificationKey(jwk: JWK(kty: "RSA", n: RFCVectors.a2N, e: RFCVectors.a2E))
        let ecKey = try VerificationKey(jwk: JWK(kty: "EC", crv: "P-256", x: RFCVectors.a3X, y: RFCVectors.a3Y))
        for (compact, key) in [(RFCVectors.a2JWS, rsaKey), (RFCVectors.a3JWS, ecKey)] {
            let parts = compact.split(separator: ".").map(String.init)
            var signature = try #require(Base64URL.decode(parts[2]))
            signature[10] ^= 0x04
            expectRejection(.badSignature, parts[0] + "." + parts[1] + "." + Base64URL.encode(signature), keys: [key])
        }
    }

    // MARK: Round trips

    @Test("Sign then verify returns header and payload, for RS256, RS256-3072 and ES256")
    func roundTrip() throws {
        let rsa3072 = try SigningKey.generate(.rs256, rsaBits: 3072)
        for key in [rsa, rsa3072, ec] {
            let payload = Array(#"{"sub":"alice"}"#.utf8)
            let compact = try JWS.sign(payload: payload, key: key, type: "at+jwt")
            let verified = try JWS.verify(compact, keys: [otherEC.verificationKey, key.verificationKey])
            #expect(verified.payload == payload)
            #expect(verified.header.alg == key.algorithm.rawValue)
            #expect(verified.header.kid == key.kid)
            #expect(verified.header.typ == "at+jwt")
            #expect(verified.key === key.verificationKey)
        }
    }

    @Test("The header is exactly {\"alg\",\"kid\",\"typ\"} in that order, typ only when given")
    func headerShape() throws {
        let compact = try JWS.sign(payload: [], key: ec)
        let header = String(decoding: try #require(Base64URL.decode(String(compact.split(separator: ".")[0]))), as: UTF8.self)
        #expect(header == #"{"alg":"ES256","kid":"\#(ec.kid)"}"#)
        let typed = try JWS.sign(payload: [], key: ec, type: "application/\"x\"")
        let typedHeader = String(decoding: try #require(Base64URL.decode(String(typed.split(separator: ".")[0]))), as: UTF8.self)
        #expect(typedHeader == #"{"alg":"ES256","kid":"\#(ec.kid)","typ":"application/\"x\""}"#)
        #expect(try JWS.verify(typed, keys: [ec.verificationKey]).header.typ == "application/\"x\"")
    }

    @Test("An empty payload is allowed (RFC 7515 §7.1)")
    func emptyPayload() throws {
        let compact = try JWS.sign(payload: [], key: ec)
        #expect(compact.contains(".."))
        #expect(try JWS.verify(compact, keys: [ec.verificationKey]).payload == [])
    }

    // MARK: Prepared headers

    @Test("Prepared headers are the bytes the general path writes, and parse to the same header")
    func preparedHeadersMatchGeneralPath() throws {
        for key in [rsa, ec] {
            let entries = key.verificationKey.headers.entries
            #expect(entries.map(\.type) == PrecomputedHeaders.types)
            for entry in entries {
                var members = [("alg", key.algorithm.rawValue), ("kid", key.kid)]
                if let type = entry.type { members.append(("typ", type)) }
                let json = JSONText.object(members)
                #expect(entry.encoded == Array(Base64URL.encode(json).utf8))
                let parsed = try JWS.parseHeader(Array(json.utf8))
                #expect(entry.header.alg == parsed.alg && entry.header.kid == parsed.kid && entry.header.typ == parsed.typ)
                #expect(entry.header.raw == parsed.raw)
                let compact = try JWS.sign(payload: Array("{}".utf8), key: key, type: entry.type)
                #expect(compact.hasPrefix(Base64URL.encode(json) + "."))
            }
        }
    }

    @Test("A token with a prepared header and one with the same header written differently verify alike")
    func preparedAndGeneralHeadersVerifyAlike() throws {
        let prepared = try JWS.sign(payload: Array("{}".utf8), key: ec, type: "at+jwt")
        let general = try forge(header: #"{ "typ":"at+jwt", "kid":"\#(ec.kid)", "alg":"ES256" }"#, signedBy: ec)
        for compact in [prepared, general] {
            let verified = try JWS.verify(compact, keys: [rsa.verificationKey, ec.verificationKey])
            #expect(verified.header.alg == "ES256" && verified.header.kid == ec.kid && verified.header.typ == "at+jwt")
            #expect(verified.header.raw.count == 3)
            #expect(verified.key === ec.verificationKey)
        }
    }

    @Test("A prepared header still selects the first key with its kid, as the general path does (RFC 8725 §3.1)")
    func preparedHeaderKeySelection() throws {
        var rsaJWK = rsa.publicJWK
        rsaJWK.kid = "shared"
        var ecJWK = ec.publicJWK
        ecJWK.kid = "shared"
        let rsaShared = try VerificationKey(jwk: rsaJWK)
        let ecShared = try VerificationKey(jwk: ecJWK)
        // Exactly the header ecShared would write, signed by the EC key.
        let header = #"{"alg":"ES256","kid":"shared"}"#
        let compact = try forge(header: header, signedBy: ec)
        let encoded = Array(Base64URL.encode(header).utf8)
        #expect(encoded.withUnsafeBufferPointer { ecShared.headers.header(encodedAs: $0) } != nil)
        expectRejection(.algorithmMismatch, compact, keys: [rsaShared, ecShared])
        #expect(try JWS.verify(compact, keys: [ecShared, rsaShared]).key === ecShared)
    }

    // MARK: Algorithm rules

    @Test("alg \"none\" is refused even with an empty signature (RFC 8725 §3.2)")
    func algNone() throws {
        let unsecured = Base64URL.encode(#"{"alg":"none"}"#) + "." + Base64URL.encode("{}") + "."
        expectRejection(.malformed("signature is not base64url"), unsecured, keys: [ec.verificationKey])
        let withSignature = try forge(header: #"{"alg":"none","kid":"\#(ec.kid)"}"#, signedBy: ec)
        expectRejection(.unsupportedAlgorithm("none"), withSignature, keys: [ec.verificationKey])
        let noneKidless = try forge(header: #"{"alg":"none"}"#, signedBy: ec)
        expectRejection(.unsupportedAlgorithm("none"), noneKidless, keys: [ec.verificationKey])
    }

    @Test("HMAC algorithms are refused, including HS256 keyed with the public key (RFC 8725 §2.1)", arguments: ["HS256", "HS384", "HS512"])
    func hmac(_ alg: String) throws {
        let header = #"{"alg":"\#(alg)","kid":"\#(rsa.kid)"}"#
        let input = Base64URL.encode(header) + "." + Base64URL.encode("{}")
        let publicKeyBytes = Array((rsa.publicJWK.n ?? "").utf8)
        let compact = input + "." + Base64URL.encode(HMACSHA256.authenticate(Array(input.utf8), key: publicKeyBytes))
        expectRejection(.unsupportedAlgorithm(alg), compact, keys: [rsa.verificationKey])
    }

    @Test("Other and differently cased algorithms are refused", arguments: ["PS256", "ES384", "RS512", "EdDSA", "rs256", "es256", "RS256 ", ""])
    func otherAlgorithms(_ alg: String) throws {
        let compact = try forge(header: #"{"alg":"\#(alg)","kid":"\#(ec.kid)"}"#, signedBy: ec)
        expectRejection(.unsupportedAlgorithm(alg), compact, keys: [ec.verificationKey])
    }

    @Test("The header's alg must equal the selected key's algorithm (RFC 8725 §3.1)")
    func algorithmMismatch() throws {
        // Header says RS256 but the kid names an ES256 key (signature made by that key).
        let rsOnEC = try forge(header: #"{"alg":"RS256","kid":"\#(ec.kid)"}"#, signedBy: ec)
        expectRejection(.algorithmMismatch, rsOnEC, keys: [ec.verificationKey, rsa.verificationKey])
        // Header says ES256 but the kid names an RS256 key.
        let esOnRSA = try forge(header: #"{"alg":"ES256","kid":"\#(rsa.kid)"}"#, signedBy: rsa)
        expectRejection(.algorithmMismatch, esOnRSA, keys: [ec.verificationKey, rsa.verificationKey])
        // Without kid and a single key, the key still decides.
        let kidless = try forge(header: #"{"alg":"RS256"}"#, signedBy: ec)
        expectRejection(.algorithmMismatch, kidless, keys: [ec.verificationKey])
    }

    // MARK: Key selection

    @Test("An unknown kid is refused, with no fallback to another or the only key")
    func unknownKid() throws {
        let compact = try forge(header: #"{"alg":"ES256","kid":"not-a-known-key"}"#, signedBy: ec)
        expectRejection(.unknownKey, compact, keys: [ec.verificationKey])
        expectRejection(.unknownKey, compact, keys: [ec.verificationKey, otherEC.verificationKey])
        expectRejection(.unknownKey, try JWS.sign(payload: [], key: ec), keys: [otherEC.verificationKey])
        expectRejection(.unknownKey, try JWS.sign(payload: [], key: ec), keys: [])
    }

    @Test("A missing kid is refused when several keys could match")
    func missingKid() throws {
        let compact = try forge(header: #"{"alg":"ES256"}"#, signedBy: ec)
        expectRejection(.missingKeyID, compact, keys: [ec.verificationKey, otherEC.verificationKey])
        expectRejection(.unknownKey, compact, keys: [])
        #expect(try JWS.verify(compact, keys: [ec.verificationKey]).header.kid == nil)
    }

    @Test("A signature by another key under the right kid does not verify")
    func wrongSigner() throws {
        let compact = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)"}"#, signedBy: otherEC)
        expectRejection(.badSignature, compact, keys: [ec.verificationKey, otherEC.verificationKey])
    }

    // MARK: Tampering

    @Test("Tampered header, payload or signature does not verify")
    func tampering() throws {
        for key in [rsa, ec] {
            let compact = try JWS.sign(payload: Array(#"{"sub":"alice","admin":false}"#.utf8), key: key)
            let parts = compact.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let payload = Base64URL.encode(#"{"sub":"alice","admin":true}"#)
            expectRejection(.badSignature, parts[0] + "." + payload + "." + parts[2], keys: [key.verificationKey])
            let header = Base64URL.encode(#"{"alg":"\#(key.algorithm.rawValue)","kid":"\#(key.kid)","typ":"JWT"}"#)
            expectRejection(.badSignature, header + "." + parts[1] + "." + parts[2], keys: [key.verificationKey])
            var signature = try #require(Base64URL.decode(parts[2]))
            for index in [0, signature.count / 2, signature.count - 1] {
                var flipped = signature
                flipped[index] ^= 0x80
                expectRejection(.badSignature, parts[0] + "." + parts[1] + "." + Base64URL.encode(flipped), keys: [key.verificationKey])
            }
            signature.removeLast()
            expectRejection(.badSignature, parts[0] + "." + parts[1] + "." + Base64URL.encode(signature), keys: [key.verificationKey])
            expectRejection(.badSignature, parts[0] + "." + parts[1] + "." + Base64URL.encode(signature + [0, 0]), keys: [key.verificationKey])
        }
    }

    @Test("ES256 signatures with R or S equal to 0 or ≥ n are refused (RFC 7518 §3.4, FIPS 186-4 §6.4.2)")
    func ecdsaScalarRange() throws {
        let input = Base64URL.encode(#"{"alg":"ES256","kid":"\#(ec.kid)"}"#) + "." + Base64URL.encode("{}")
        let valid = try ec.sign(Array(input.utf8))
        let zero = [UInt8](repeating: 0, count: 32)
        let n = ECDSASignature.p256Order
        let candidates: [[UInt8]] = [
            zero + zero,
            zero + Array(valid[32...]),
            Array(valid[..<32]) + zero,
            n + Array(valid[32...]),
            Array(valid[..<32]) + n,
            [UInt8](repeating: 0xFF, count: 64),
        ]
        for signature in candidates {
            expectRejection(.badSignature, input + "." + Base64URL.encode(signature), keys: [ec.verificationKey])
        }
        #expect(!ec.verificationKey.verify(signature: zero + zero, message: Array(input.utf8)))
    }

    @Test("A DER-encoded ES256 signature is refused (RFC 7518 §3.4 requires R || S)")
    func derSignatureRefused() throws {
        let input = Base64URL.encode(#"{"alg":"ES256","kid":"\#(ec.kid)"}"#) + "." + Base64URL.encode("{}")
        let der = try #require(ECDSASignature.der(fromRaw: try ec.sign(Array(input.utf8))))
        expectRejection(.badSignature, input + "." + Base64URL.encode(der), keys: [ec.verificationKey])
    }

    @Test("ES256 and RS256 signatures of the wrong length are refused")
    func wrongLengths() throws {
        let message = Array("m".utf8)
        let ecSignature = try ec.sign(message)
        #expect(!ec.verificationKey.verify(signature: Array(ecSignature.prefix(63)), message: message))
        #expect(!ec.verificationKey.verify(signature: ecSignature + [0], message: message))
        #expect(!ec.verificationKey.verify(signature: [], message: message))
        let rsaSignature = try rsa.sign(message)
        #expect(rsaSignature.count == 256)
        #expect(!rsa.verificationKey.verify(signature: [0] + rsaSignature, message: message))
        #expect(!rsa.verificationKey.verify(signature: Array(rsaSignature.dropFirst()), message: message))
        #expect(!rsa.verificationKey.verify(signature: [], message: message))
    }

    // MARK: crit

    @Test("Any crit header is refused: no extensions are understood (RFC 7515 §4.1.11)", arguments: [
        #"["exp"]"#, #"["b64"]"#, "[]", #""exp""#, "null",
    ])
    func crit(_ value: String) throws {
        let compact = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","crit":\#(value),"exp":1,"b64":false}"#, signedBy: ec)
        expectRejection(.unsupportedCriticalHeader, compact, keys: [ec.verificationKey])
    }

    // MARK: Malformed input

    @Test("Malformed compact strings are refused as malformed", arguments: [
        "", ".", "..", "...", "a", "a.b", "a.b.c.d", "a.b.c.", ".a.b",
        "eyJhbGciOiJFUzI1NiJ9", "eyJhbGciOiJFUzI1NiJ9.e30", "eyJhbGciOiJFUzI1NiJ9.e30.",
        ".e30.AAAA", "eyJhbGciOiJFUzI1NiJ9.e30.AAA=", "eyJhbGciOiJFUzI1NiJ9=.e30.AAAA",
        "eyJhbGciOiJFUzI1NiJ9.e30=.AAAA", "eyJhbGciOiJFUzI1NiJ9.e30.AA+A", "eyJhbGciOiJFUzI1NiJ9.e3 0.AAAA",
        "eyJhbGciOiJFUzI1NiJ9.e30.A", " eyJhbGciOiJFUzI1NiJ9.e30.AAAA", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA\n",
        "eyJhbGciOiJFUzI1NiJ9\n.e30.AAAA", "ey JhbGciOiJFUzI1NiJ9.e30.AAAA",
    ])
    func malformedCompact(_ compact: String) {
        #expect {
            try JWS.verify(compact, keys: [ec.verificationKey])
        } throws: { error in
            if case JWSError.malformed = error { return true }
            return false
        }
    }

    @Test("Headers that are not a JSON object with a string alg are refused as malformed", arguments: [
        "[]", "\"ES256\"", "null", "1", "{", "{}", #"{"alg":1}"#, #"{"alg":null}"#, #"{"alg":["ES256"]}"#,
        #"{"alg":"ES256","kid":1}"#, #"{"alg":"ES256","typ":{}}"#, #"{"alg":"ES256"} x"#, #"{"alg":"ES256",}"#,
        #"{'alg':'ES256'}"#, #"{"alg":"ES256","alg":"ES256"}"#, #"{"alg":"none","alg":"ES256"}"#,
        "\u{FEFF}{\"alg\":\"ES256\"}", #"{"alg":"ES\u0000256"}"#,
    ])
    func malformedHeader(_ header: String) throws {
        let compact = try forge(header: header, signedBy: ec)
        #expect {
            try JWS.verify(compact, keys: [ec.verificationKey])
        } throws: { error in
            if case JWSError.malformed = error { return true }
            if case JWSError.unsupportedAlgorithm = error { return header.contains("u0000") }
            return false
        }
    }

    @Test("A header that is not valid UTF-8 is refused as malformed")
    func invalidUTF8Header() throws {
        let input = Base64URL.encode([0x7B, 0x22, 0x61, 0x6C, 0x67, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]) + "." + Base64URL.encode("{}")
        let compact = input + "." + Base64URL.encode(try ec.sign(Array(input.utf8)))
        #expect(throws: JWSError.malformed("header: invalid UTF-8 in string")) { try JWS.verify(compact, keys: [ec.verificationKey]) }
    }

    @Test("Compact strings longer than the limit are refused before any parsing")
    func lengthLimit() throws {
        let compact = try JWS.sign(payload: [UInt8](repeating: 0x41, count: JWS.maximumCompactLength), key: ec)
        #expect {
            try JWS.verify(compact, keys: [ec.verificationKey])
        } throws: { error in
            if case JWSError.malformed(let message) = error { return message.contains("longer") }
            return false
        }
    }

    @Test("Every truncation of a valid JWS is refused")
    func truncations() throws {
        let compact = try JWS.sign(payload: Array("{\"a\":1}".utf8), key: ec)
        for length in 0..<compact.utf8.count {
            let prefix = String(decoding: compact.utf8.prefix(length), as: UTF8.self)
            #expect(throws: JWSError.self) { try JWS.verify(prefix, keys: [ec.verificationKey]) }
        }
    }

    @Test("Unknown non-critical header members are kept in raw")
    func rawHeader() throws {
        let compact = try forge(header: #"{"alg":"ES256","kid":"\#(ec.kid)","x-n":1.5,"x-b":true,"x-a":[null,"s"]}"#, signedBy: ec)
        let header = try JWS.verify(compact, keys: [ec.verificationKey]).header
        #expect(header.raw["x-n"] == .number(1.5))
        #expect(header.raw["x-b"] == .bool(true))
        #expect(header.raw["x-a"] == .array([.null, .string("s")]))
        #expect(header.raw["alg"] == .string("ES256"))
    }
}
