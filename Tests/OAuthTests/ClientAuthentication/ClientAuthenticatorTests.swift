import Foundation
import JOSE
import PasswordHashing
import Testing
import TestSupport
@testable import OAuth

@Suite struct ClientAuthenticatorTests {
    let fixture = AuthenticationFixture()
    var authenticator: ClientAuthenticator { fixture.authenticator }

    /// The error `body` throws, which must be an ``OAuthError`` with `code`.
    func refusal(_ code: OAuthError.Code, _ request: ClientAuthenticationRequest,
                 sourceLocation: SourceLocation = #_sourceLocation) async -> OAuthError? {
        let error = await #expect(throws: OAuthError.self, sourceLocation: sourceLocation) {
            try await authenticator.authenticate(request)
        }
        #expect(error?.code == code, sourceLocation: sourceLocation)
        return error
    }

    // MARK: - Secrets

    @Test("Basic credentials with reserved characters are form-decoded, then verified (RFC 6749 §2.3.1)")
    func basicWithReservedCharacters() async throws {
        try fixture.register("svc:a/b%", method: .clientSecretBasic, secret: "p@ss:w%rd+/=")
        let header = AuthenticationFixture.basic("svc:a/b%", "p@ss:w%rd+/=")
        #expect(header == "Basic " + Data("svc%3Aa%2Fb%25:p%40ss%3Aw%25rd%2B%2F%3D".utf8).base64EncodedString())
        let result = try await authenticator.authenticate(fixture.request(authorization: header, ["grant_type": "client_credentials"]))
        #expect(result.client.id == "svc:a/b%")
        #expect(result.method == .clientSecretBasic)
    }

    @Test("client_secret_post authenticates a client registered for it (RFC 6749 §2.3.1)")
    func clientSecretPost() async throws {
        try fixture.register("poster", method: .clientSecretPost, secret: "s3cret")
        let result = try await authenticator.authenticate(fixture.request(["client_id": "poster", "client_secret": "s3cret"]))
        #expect(result.client.id == "poster")
        #expect(result.method == .clientSecretPost)
    }

    @Test("A wrong secret is invalid_client with the generic description (RFC 6749 §5.2)")
    func wrongSecret() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        let error = await refusal(.invalidClient, fixture.basicRequest("svc", "wrong"))
        #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
        #expect(error?.detail?.contains("wrong secret") == true)
        #expect(error?.detail?.contains("wrong\"") != true)
    }

    @Test("An unknown client gets the same description as a wrong secret and still costs one Argon2 verification (RFC 6749 §5.2)")
    func unknownClientLooksLikeWrongSecret() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        let wrong = await refusal(.invalidClient, fixture.basicRequest("svc", "wrong"))
        #expect(authenticator.argon2VerificationCount == 1)
        let unknown = await refusal(.invalidClient, fixture.basicRequest("nobody", "wrong"))
        #expect(authenticator.argon2VerificationCount == 2)
        #expect(wrong?.errorDescription == unknown?.errorDescription)
        #expect(wrong?.code == unknown?.code)
        #expect(unknown?.detail?.contains("unknown client") == true)
    }

    @Test("A disabled client is invalid_client, with the generic description, even with its right secret")
    func disabledClient() async throws {
        try fixture.register("off", method: .clientSecretBasic, secrets: [("right", nil)], isDisabled: true)
        let error = await refusal(.invalidClient, fixture.basicRequest("off", "right"))
        #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
        #expect(error?.detail?.contains("disabled") == true)
    }

    @Test("A grace-period secret is accepted before its expiry and refused from then on")
    func gracePeriodSecret() async throws {
        // The grace period ends within the cache lifetime, so the cache must not outlive it.
        let expiry = fixture.clock.date.addingTimeInterval(120)
        try fixture.register("rotating", method: .clientSecretBasic, secrets: [("old", expiry), ("new", nil)])
        #expect(try await authenticator.authenticate(fixture.basicRequest("rotating", "old")).client.id == "rotating")
        #expect(try await authenticator.authenticate(fixture.basicRequest("rotating", "new")).client.id == "rotating")
        fixture.clock.advance(by: .seconds(119))
        #expect(try await authenticator.authenticate(fixture.basicRequest("rotating", "old")).client.id == "rotating")
        fixture.clock.advance(by: .seconds(1))
        // expiresAt <= now: refused, even though the cache still remembers the old secret.
        _ = await refusal(.invalidClient, fixture.basicRequest("rotating", "old"))
        #expect(try await authenticator.authenticate(fixture.basicRequest("rotating", "new")).client.id == "rotating")
    }

    @Test("The current secret is tried first, so the usual request costs one verification")
    func currentSecretFirst() async throws {
        let expiry = fixture.clock.date.addingTimeInterval(3_600)
        try fixture.register("rotating", method: .clientSecretBasic, secrets: [("new", nil), ("old", expiry)])
        _ = try await authenticator.authenticate(fixture.basicRequest("rotating", "new"))
        #expect(authenticator.argon2VerificationCount == 1)
    }

    @Test("A secret hashed at the default Argon2id cost verifies; so does an unknown client's dummy check")
    func defaultCost() async throws {
        let fixture = AuthenticationFixture(parameters: Argon2Parameters())
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        #expect(try await fixture.authenticator.authenticate(fixture.basicRequest("svc", "right")).client.id == "svc")
        try await fixture.authenticator.prepare()
        await #expect(throws: OAuthError(.invalidClient, ClientAuthenticator.failureDescription, detail: "unknown client ghost", isRedirectable: false)) {
            try await fixture.authenticator.authenticate(fixture.basicRequest("ghost", "right"))
        }
        #expect(fixture.authenticator.argon2VerificationCount == 2)
    }

    @Test("A corrupt stored hash does not match, and another stored secret still can")
    func corruptStoredHash() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        fixture.store.update("svc") { $0.secrets.insert(StoredClientSecret(hash: "$argon2id$garbage", createdAt: .distantFuture), at: 0) }
        #expect(try await authenticator.authenticate(fixture.basicRequest("svc", "right")).client.id == "svc")
        let error = await refusal(.invalidClient, fixture.basicRequest("svc", "wrong"))
        #expect(error?.detail?.contains("unusable") == true)
    }

    @Test("Store errors propagate unchanged")
    func storeErrorsPropagate() async throws {
        fixture.store.setFailing(true)
        await #expect(throws: InMemoryClientCredentialStore.Unavailable()) {
            try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        }
    }

    // MARK: - Method detection (rule 1)

    @Test("Two authentication methods in one request are invalid_request (RFC 6749 §2.3)")
    func twoMethods() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        let basic = AuthenticationFixture.basic("svc", "right")
        let assertion = ["client_assertion": "a.b.c", "client_assertion_type": Assertion.type]
        _ = await refusal(.invalidRequest, fixture.request(authorization: basic, ["client_secret": "right"]))
        _ = await refusal(.invalidRequest, fixture.request(authorization: basic, assertion))
        _ = await refusal(.invalidRequest, fixture.request(assertion.merging(["client_id": "svc", "client_secret": "right"]) { a, _ in a }))
        #expect(authenticator.argon2VerificationCount == 0)
    }

    @Test("A client_id parameter that differs from the Basic id is invalid_request (RFC 6749 §2.3.1)")
    func basicAndDifferentClientID() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        _ = await refusal(.invalidRequest, fixture.request(authorization: AuthenticationFixture.basic("svc", "right"), ["client_id": "other"]))
        let same = fixture.request(authorization: AuthenticationFixture.basic("svc", "right"), ["client_id": "svc"])
        #expect(try await authenticator.authenticate(same).client.id == "svc")
    }

    @Test("An Authorization scheme other than Basic is ignored (RFC 6749 §2.3)")
    func otherSchemeIgnored() async throws {
        try fixture.register("poster", method: .clientSecretPost, secret: "s3cret")
        let request = fixture.request(authorization: "Bearer abc.def", ["client_id": "poster", "client_secret": "s3cret"])
        #expect(try await authenticator.authenticate(request).method == .clientSecretPost)
        _ = await refusal(.invalidClient, fixture.request(authorization: "Bearer abc.def"))
    }

    @Test("Malformed Basic credentials fail client authentication: invalid_client (RFC 6749 §5.2)", arguments: [
        "Basic", "Basic !!!!", "Basic " + Data("no-colon".utf8).base64EncodedString(), "Basic " + Data(":secret".utf8).base64EncodedString(),
        "Basic " + Data("id%zz:secret".utf8).base64EncodedString(),
    ])
    func malformedBasic(header: String) async {
        _ = await refusal(.invalidClient, fixture.request(authorization: header))
    }

    @Test("client_secret without client_id, and malformed client ids, are invalid_request (RFC 6749 §2.3.1)")
    func malformedIdentifiers() async {
        _ = await refusal(.invalidRequest, fixture.request(["client_secret": "x"]))
        _ = await refusal(.invalidRequest, fixture.request(["client_id": ""]))
        _ = await refusal(.invalidRequest, fixture.request(["client_id": "has space", "client_secret": "x"]))
        _ = await refusal(.invalidRequest, fixture.request(["client_id": String(repeating: "a", count: 129), "client_secret": "x"]))
        _ = await refusal(.invalidRequest, fixture.request(["client_id": "svc", "client_secret": String(repeating: "s", count: 1_025)]))
        #expect(authenticator.argon2VerificationCount == 0)
    }

    @Test("A request with no client authentication at all is invalid_client (RFC 6749 §5.2)")
    func noAuthentication() async {
        let error = await refusal(.invalidClient, fixture.request(["grant_type": "client_credentials"]))
        #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
    }

    // MARK: - Registered method only (rule 2, rule 7)

    @Test("Only the registered token_endpoint_auth_method is accepted (RFC 7591 §2)")
    func methodMismatch() async throws {
        try fixture.register("basic-client", method: .clientSecretBasic, secret: "right")
        try fixture.register("post-client", method: .clientSecretPost, secret: "right")
        try fixture.register("jwt-client", method: .privateKeyJWT, secret: "right")
        try fixture.register("public-client", method: .none)
        let refusals = [
            fixture.request(["client_id": "basic-client", "client_secret": "right"]),
            fixture.basicRequest("post-client", "right"),
            fixture.basicRequest("jwt-client", "right"),
            fixture.basicRequest("public-client", "right"),
            fixture.request(["client_id": "basic-client"]),
        ]
        for request in refusals {
            let error = await refusal(.invalidClient, request)
            #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
        }
    }

    @Test("A public client presents only its client_id and is accepted only when registered with none (RFC 6749 §2.1)")
    func publicClient() async throws {
        try fixture.register("spa", method: .none)
        let result = try await authenticator.authenticate(fixture.request(["client_id": "spa", "grant_type": "authorization_code"]))
        #expect(result.client.id == "spa")
        #expect(result.method == .none)
        _ = await refusal(.invalidClient, fixture.request(["client_id": "unknown-spa"]))
        try fixture.register("off-spa", method: .none, isDisabled: true)
        _ = await refusal(.invalidClient, fixture.request(["client_id": "off-spa"]))
        #expect(authenticator.argon2VerificationCount == 0)
    }

    // MARK: - Cache (rule 4)

    @Test("A verified secret is remembered: the next request costs no Argon2 verification")
    func cacheHitAvoidsArgon2() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        #expect(authenticator.argon2VerificationCount == 1)
        for _ in 0..<3 {
            #expect(try await authenticator.authenticate(fixture.basicRequest("svc", "right")).client.id == "svc")
        }
        #expect(authenticator.argon2VerificationCount == 1)
        // A wrong secret is not a cache hit.
        _ = await refusal(.invalidClient, fixture.basicRequest("svc", "wrong"))
        #expect(authenticator.argon2VerificationCount == 2)
    }

    @Test("Invalidation makes the next request verify with Argon2 again")
    func invalidation() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        fixture.cache.invalidate(clientID: "svc")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        #expect(authenticator.argon2VerificationCount == 2)
        fixture.cache.invalidateAll()
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        #expect(authenticator.argon2VerificationCount == 3)
    }

    @Test("A remembered secret whose stored secret was replaced is refused even before invalidation")
    func cacheTiedToStoredHash() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "old")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "old"))
        let replacement = try Argon2id.hash(password: Array("new".utf8), parameters: fastArgon2)
        fixture.store.update("svc") { $0.secrets = [StoredClientSecret(hash: replacement, createdAt: Date())] }
        _ = await refusal(.invalidClient, fixture.basicRequest("svc", "old"))
        #expect(try await authenticator.authenticate(fixture.basicRequest("svc", "new")).client.id == "svc")
    }

    @Test("A cache hit still refuses a client disabled or re-registered for another method")
    func cacheHitChecksClient() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        fixture.store.update("svc") { $0.client.isDisabled = true }
        _ = await refusal(.invalidClient, fixture.basicRequest("svc", "right"))
        fixture.store.update("svc") { $0.client.isDisabled = false; $0.client.authMethod = .clientSecretPost }
        _ = await refusal(.invalidClient, fixture.basicRequest("svc", "right"))
        #expect(try await authenticator.authenticate(fixture.request(["client_id": "svc", "client_secret": "right"])).client.id == "svc")
    }

    @Test("Remembered secrets expire after the cache lifetime")
    func cacheLifetime() async throws {
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        fixture.clock.advance(by: .seconds(299))
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        #expect(authenticator.argon2VerificationCount == 1)
        fixture.clock.advance(by: .seconds(1))
        _ = try await authenticator.authenticate(fixture.basicRequest("svc", "right"))
        #expect(authenticator.argon2VerificationCount == 2)
    }

    // MARK: - Throttle (rule 5)

    @Test("After five free failures for a client from one address, that address backs off for it; the client's owner elsewhere never does")
    func throttleBacksOffPerSourceAndClient() async throws {
        try fixture.register("victim", method: .clientSecretBasic, secret: "right")
        try fixture.register("bystander", method: .clientSecretBasic, secret: "theirs")
        for attempt in 1...6 {
            _ = await refusal(.invalidClient, fixture.basicRequest("victim", "guess\(attempt)", from: "198.51.100.7"))
        }
        #expect(authenticator.argon2VerificationCount == 6)
        // Throttled from that address: even the right secret (not yet verified) is refused without running Argon2.
        let throttled = await refusal(.invalidClient, fixture.basicRequest("victim", "right", from: "198.51.100.7"))
        #expect(throttled?.errorDescription == ClientAuthenticator.failureDescription)
        #expect(throttled?.detail?.contains("throttled") == true)
        #expect(authenticator.argon2VerificationCount == 6)
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "right", from: "198.51.100.7")) == .seconds(1))
        // The owner, from its own address, is not held back by anyone else's failures.
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "right", from: "203.0.113.9")) == nil)
        #expect(try await authenticator.authenticate(fixture.basicRequest("victim", "right", from: "203.0.113.9")).client.id == "victim")

        fixture.clock.advance(by: .seconds(1))
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "right", from: "198.51.100.7")) == nil)
    }

    @Test("Wrong secrets for one client from a hundred addresses never lock the client out (no per-client lockout)")
    func noLockoutAcrossSources() async throws {
        try fixture.register("victim", method: .clientSecretBasic, secret: "right")
        for attempt in 1...100 {
            _ = await refusal(.invalidClient, fixture.basicRequest("victim", "guess\(attempt)", from: "198.51.\(attempt / 250).\(attempt % 250)"))
        }
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "right", from: "203.0.113.9")) == nil)
        #expect(try await authenticator.authenticate(fixture.basicRequest("victim", "right", from: "203.0.113.9")).client.id == "victim")
    }

    @Test("The backoff doubles with each further failure from a source up to 60 s")
    func backoffDoubles() async throws {
        try fixture.register("victim", method: .clientSecretBasic, secret: "right")
        var waits: [Duration] = []
        for _ in 1...14 {
            _ = await refusal(.invalidClient, fixture.basicRequest("victim", "guess", from: "198.51.100.1"))
            if let wait = authenticator.retryAfter(for: fixture.basicRequest("victim", "x", from: "198.51.100.1")) {
                waits.append(wait)
                fixture.clock.advance(by: wait)
            }
        }
        #expect(waits == [1, 2, 4, 8, 16, 32, 60, 60, 60].map { Duration.seconds($0) })
    }

    @Test("One IPv6 /64 is one source: failures from its many addresses add up")
    func ipv6PrefixIsOneSource() async throws {
        try fixture.register("victim", method: .clientSecretBasic, secret: "right")
        for attempt in 1...6 {
            _ = await refusal(.invalidClient, fixture.basicRequest("victim", "guess", from: "2001:db8:1:2::\(String(attempt, radix: 16))"))
        }
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "x", from: "2001:db8:1:2:ffff::1")) == .seconds(1))
        #expect(authenticator.retryAfter(for: fixture.basicRequest("victim", "x", from: "2001:db8:1:3::1")) == nil)
    }

    @Test("A remembered secret is accepted while an attacker's failures throttle its client")
    func cacheHitBypassesThrottle() async throws {
        try fixture.register("service", method: .clientSecretBasic, secret: "right")
        _ = try await authenticator.authenticate(fixture.basicRequest("service", "right", from: "10.0.0.1"))
        for attempt in 1...8 {
            _ = await refusal(.invalidClient, fixture.basicRequest("service", "guess\(attempt)", from: "198.51.100.1"))
        }
        #expect(fixture.throttle.retryAfter(key: "service", sourceAddress: "198.51.100.1") != nil)
        let count = authenticator.argon2VerificationCount
        #expect(try await authenticator.authenticate(fixture.basicRequest("service", "right", from: "10.0.0.1")).client.id == "service")
        #expect(try await authenticator.authenticate(fixture.basicRequest("service", "right", from: "198.51.100.1")).client.id == "service")
        #expect(authenticator.argon2VerificationCount == count)
    }

    @Test("Failures from one address throttle that address for every client, and no other address")
    func throttlePerAddress() async throws {
        for index in 1...7 { try fixture.register("client\(index)", method: .clientSecretBasic, secret: "right\(index)") }
        for index in 1...6 {
            _ = await refusal(.invalidClient, fixture.basicRequest("client\(index)", "wrong", from: "198.51.100.7"))
        }
        let count = authenticator.argon2VerificationCount
        let error = await refusal(.invalidClient, fixture.basicRequest("client7", "right7", from: "198.51.100.7"))
        #expect(error?.detail?.contains("throttled") == true)
        #expect(authenticator.argon2VerificationCount == count)
        #expect(try await authenticator.authenticate(fixture.basicRequest("client7", "right7", from: "192.0.2.44")).client.id == "client7")
    }

    @Test("An overloaded Argon2 pool answers temporarily_unavailable at once")
    func poolOverload() async throws {
        let fixture = AuthenticationFixture(threads: 1, maxQueued: 0)
        try fixture.register("svc", method: .clientSecretBasic, secret: "right")
        try await fixture.authenticator.prepare()
        let occupation = await PoolOccupation.occupy(fixture.argon2, threads: 1)
        let error = await #expect(throws: OAuthError.self) {
            try await fixture.authenticator.authenticate(fixture.basicRequest("svc", "right"))
        }
        #expect(error?.code == .temporarilyUnavailable)
        // An overload is not the client's failure.
        #expect(fixture.throttle.trackedCount.pairs == 0)
        occupation.release()
        await occupation.finished.value
        #expect(try await fixture.authenticator.authenticate(fixture.basicRequest("svc", "right")).client.id == "svc")
    }

    // MARK: - private_key_jwt through the authenticator (rule 6)

    @Test("A private_key_jwt client authenticates with an assertion, found by its sub when client_id is absent (RFC 7521 §4.2)")
    func assertionAuthenticates() async throws {
        let key = try SigningKey.generate(.es256)
        try fixture.register("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]))
        let claims = Assertion.claims("jwt-client", now: fixture.clock.date, ["jti": "one"])
        let result = try await authenticator.authenticate(fixture.request(Assertion.parameters(try Assertion.sign(claims, key: key))))
        #expect(result.client.id == "jwt-client")
        #expect(result.method == .privateKeyJWT)
        // Kept until exp plus the clock skew.
        #expect(fixture.store.assertionIDExpiry("one", clientID: "jwt-client") == fixture.clock.date.addingTimeInterval(90))
        let withID = try Assertion.sign(Assertion.claims("jwt-client", now: fixture.clock.date), key: key)
        #expect(try await authenticator.authenticate(fixture.request(Assertion.parameters(withID, clientID: "jwt-client"))).client.id == "jwt-client")
        #expect(authenticator.argon2VerificationCount == 0)
    }

    @Test("A replayed assertion is invalid_client (OIDC Core §9: used only once)")
    func assertionReplay() async throws {
        let key = try SigningKey.generate(.es256)
        try fixture.register("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]))
        let assertion = try Assertion.sign(Assertion.claims("jwt-client", now: fixture.clock.date), key: key)
        _ = try await authenticator.authenticate(fixture.request(Assertion.parameters(assertion)))
        let error = await refusal(.invalidClient, fixture.request(Assertion.parameters(assertion)))
        #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
        #expect(error?.detail?.contains("replayed") == true)
    }

    @Test("A client_id that differs from the assertion's subject is invalid_client (RFC 7521 §4.2)")
    func assertionClientIDMismatch() async throws {
        let key = try SigningKey.generate(.es256)
        let other = try SigningKey.generate(.es256)
        try fixture.register("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]))
        try fixture.register("other-client", method: .privateKeyJWT, jwks: JWKS(keys: [other.publicJWK]))
        let assertion = try Assertion.sign(Assertion.claims("jwt-client", now: fixture.clock.date), key: key)
        _ = await refusal(.invalidClient, fixture.request(Assertion.parameters(assertion, clientID: "other-client")))
        // Signed by other-client's key but claiming to be jwt-client.
        let forged = try Assertion.sign(Assertion.claims("jwt-client", now: fixture.clock.date), key: other, header: ["alg": "ES256", "kid": key.kid])
        _ = await refusal(.invalidClient, fixture.request(Assertion.parameters(forged)))
    }

    @Test("A client_assertion with a missing or wrong client_assertion_type is invalid_request (RFC 7521 §4.2)")
    func assertionType() async throws {
        let key = try SigningKey.generate(.es256)
        try fixture.register("jwt-client", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]))
        let assertion = try Assertion.sign(Assertion.claims("jwt-client", now: fixture.clock.date), key: key)
        _ = await refusal(.invalidRequest, fixture.request(["client_assertion": assertion]))
        _ = await refusal(.invalidRequest, fixture.request(["client_assertion": assertion, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"]))
        _ = await refusal(.invalidRequest, fixture.request(["client_assertion_type": Assertion.type, "client_id": "jwt-client"]))
    }

    @Test("Assertions for unknown, disabled or secret-registered clients get the generic invalid_client")
    func assertionForWrongClients() async throws {
        let key = try SigningKey.generate(.es256)
        try fixture.register("secret-client", method: .clientSecretBasic, secrets: [("s", nil)], jwks: JWKS(keys: [key.publicJWK]))
        try fixture.register("off", method: .privateKeyJWT, jwks: JWKS(keys: [key.publicJWK]), isDisabled: true)
        for clientID in ["secret-client", "off", "ghost"] {
            let assertion = try Assertion.sign(Assertion.claims(clientID, now: fixture.clock.date), key: key)
            let error = await refusal(.invalidClient, fixture.request(Assertion.parameters(assertion)))
            #expect(error?.errorDescription == ClientAuthenticator.failureDescription)
        }
        let oversized = String(repeating: "a", count: 8 * 1024 + 1)
        _ = await refusal(.invalidClient, fixture.request(Assertion.parameters(oversized, clientID: "off")))
        _ = await refusal(.invalidClient, fixture.request(Assertion.parameters("not-a-jwt")))
    }
}
