import Foundation
import JOSE
import PasswordHashing
import Synchronization

/// Authenticates the client of a token-endpoint request (RFC 6749 §2.3, RFC 7523, OIDC Core §9).
///
/// The request may use exactly one method: `client_secret_basic` (Authorization header),
/// `client_secret_post` (`client_secret` parameter), `private_key_jwt` (`client_assertion`), or
/// `none` (only `client_id`, for public clients); only the client's registered method is accepted.
///
/// Every failure that concerns the client's identity or credentials is `invalid_client` with the
/// one sentence ``failureDescription``, so the response never tells whether the client exists; the
/// reason is in the error's `detail`, which is logged and never holds a secret. An unknown client
/// costs an Argon2 verification like a known one.
///
/// Secrets are verified with Argon2id on the ``Argon2Pool``; a verified secret is remembered in
/// the ``VerifiedSecretCache``, and failures are throttled by the ``AuthenticationThrottle``. A
/// throttled request is `invalid_client` at once: ``retryAfter(for:)`` gives the wait for `Retry-After`.
public final class ClientAuthenticator: Sendable {
    /// The `error_description` of every `invalid_client`.
    public static let failureDescription = "Client authentication failed."
    /// Client ids are 1 to 128 printable ASCII characters (see ``Client/problem``); anything else
    /// cannot name a client, and refusing it early bounds what reaches storage, logs and the throttle.
    public static let maximumClientIDLength = 128
    /// Bounds the bytes hashed per attempt; the secrets this server issues are far shorter.
    public static let maximumSecretLength = 1_024

    let store: any ClientCredentialStore
    let argon2: Argon2Pool
    let cache: VerifiedSecretCache
    let throttle: AuthenticationThrottle
    let assertions: ClientAssertionVerifier
    let dummyHashParameters: Argon2Parameters
    private let clock: @Sendable () -> Date
    /// The hash an unknown client's secret is checked against.
    private let dummyHash: DummyHash
    /// Argon2 verifications started (including the dummy ones); tests read it to see which path ran.
    private let verifications = Mutex(0)

    /// Creates an authenticator that reads clients from `store` and verifies secrets on `argon2`.
    ///
    /// - Parameters:
    ///   - assertionAudience: the issuer identifier, the one `aud` a client assertion may have.
    ///   - maximumAssertionLifetime: how far after now a client assertion's `exp` may lie (plus 30 s of skew).
    ///   - dummyHashParameters: the cost of the hash an unknown client's secret is checked against;
    ///     keep it equal to the cost of stored secrets, so that timing does not reveal whether a client exists.
    ///   - clock: the wall clock for secret expiry and assertion times.
    public init(store: any ClientCredentialStore, argon2: Argon2Pool, cache: VerifiedSecretCache, throttle: AuthenticationThrottle,
                assertionAudience: String, maximumAssertionLifetime: TimeInterval = 300,
                dummyHashParameters: Argon2Parameters = Argon2Parameters(),
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.argon2 = argon2
        self.cache = cache
        self.throttle = throttle
        self.assertions = ClientAssertionVerifier(audience: assertionAudience, maximumLifetime: maximumAssertionLifetime)
        self.dummyHashParameters = dummyHashParameters
        self.dummyHash = DummyHash(parameters: dummyHashParameters)
        self.clock = clock
    }

    /// Computes the dummy hash now, so that the first request for an unknown client is not slower
    /// than the rest. Call once at start-up; authentication works without it.
    public func prepare() async throws {
        _ = try await dummyHashValue()
    }

    /// Authenticates the request's client.
    ///
    /// Throws ``OAuthError``: `invalid_request` for a malformed request or more than one method,
    /// `invalid_client` when authentication fails, `temporarily_unavailable` when the Argon2 pool is
    /// overloaded or shut down. Store errors propagate unchanged.
    public func authenticate(_ request: ClientAuthenticationRequest) async throws -> AuthenticatedClient {
        switch try PresentedCredentials(request) {
        case .secret(let clientID, let secret, let method):
            return try await authenticateSecret(clientID: clientID, secret: secret, method: method, sourceAddress: request.sourceAddress)
        case .assertion(let clientID, let assertion):
            return try await authenticateAssertion(clientID: clientID, assertion: assertion)
        case .none(let clientID):
            return try await authenticatePublic(clientID: clientID)
        }
    }

    /// Authenticates the request's client from memory alone, or returns nil: a secret already verified
    /// (``VerifiedSecretCache``) for a registration held in memory. It never waits, so it may answer on
    /// an event-loop thread; when it returns nil, ``authenticate(_:)`` gives the full answer. What it
    /// accepts, ``authenticate(_:)`` accepts too (its first check is the same).
    public func authenticateImmediately(_ request: ClientAuthenticationRequest) -> AuthenticatedClient? {
        guard case .secret(let clientID, let secret, let method)? = try? PresentedCredentials(request),
              let credentials = store.cachedCredentials(clientID: clientID) else { return nil }
        let client = credentials.client
        guard !client.isDisabled, client.authMethod == method,
              cache.contains(clientID: clientID, secret: secret, usableHashes: Set(Self.usableSecrets(credentials.secrets, at: clock()).map(\.hash)))
        else { return nil }
        return AuthenticatedClient(client: client, method: method)
    }

    /// How long attempts with this request's client id from its source address (or from that
    /// address at all) are refused without verification, or nil; for `Retry-After` on an
    /// `invalid_client` response. Only secrets are throttled, and never across sources: wrong
    /// secrets sent from elsewhere cannot lock the client out.
    public func retryAfter(for request: ClientAuthenticationRequest) -> Duration? {
        guard case .secret(let clientID, _, _)? = try? PresentedCredentials(request) else { return nil }
        return throttle.retryAfter(key: clientID, sourceAddress: request.sourceAddress)
    }

    /// Argon2 verifications started so far, dummy ones included (for tests).
    var argon2VerificationCount: Int {
        verifications.withLock { $0 }
    }

    // MARK: - Methods

    private func authenticateSecret(clientID: String, secret: [UInt8], method: Client.AuthMethod,
                                    sourceAddress: String) async throws -> AuthenticatedClient {
        let generation = cache.generation
        let credentials = try await store.credentials(clientID: clientID)
        let now = clock()
        // A secret authenticates while it is current or in its grace period after a rotation.
        let usable = Self.usableSecrets(credentials?.secrets ?? [], at: now)

        if let client = credentials?.client, !client.isDisabled, client.authMethod == method,
           cache.contains(clientID: clientID, secret: secret, usableHashes: Set(usable.map(\.hash))) {
            // Accepted even while the client id is throttled: only the real secret gets here.
            return AuthenticatedClient(client: client, method: method)
        }

        if let wait = throttle.retryAfter(key: clientID, sourceAddress: sourceAddress) {
            throw Self.failure("throttled after repeated failures for this client from this address, or from this address; retry after "
                               + "\(AuthenticationThrottle.retryAfterSeconds(wait)) s")
        }

        guard let client = credentials?.client else {
            return try await refuseAfterDummyVerification(clientID: clientID, secret: secret, sourceAddress: sourceAddress,
                                                          detail: "unknown client \(clientID)")
        }
        guard !client.isDisabled else {
            return try await refuseAfterDummyVerification(clientID: clientID, secret: secret, sourceAddress: sourceAddress,
                                                          detail: "client \(clientID) is disabled")
        }
        // The registered token_endpoint_auth_method is the only one accepted (RFC 7591 §2).
        guard client.authMethod == method else {
            return try await refuseAfterDummyVerification(
                clientID: clientID, secret: secret, sourceAddress: sourceAddress,
                detail: "client \(clientID) is registered for \(client.authMethod.rawValue), not \(method.rawValue)")
        }
        guard !usable.isEmpty else {
            return try await refuseAfterDummyVerification(clientID: clientID, secret: secret, sourceAddress: sourceAddress,
                                                          detail: "client \(clientID) has no current or in-grace secret")
        }

        var unusableHash = false
        for stored in usable {
            let matches: Bool
            do {
                matches = try await verify(secret, against: stored.hash)
            } catch is Argon2Error {
                // A corrupt stored hash cannot match; the others may.
                unusableHash = true
                continue
            }
            if matches {
                cache.insert(clientID: clientID, secret: secret, storedHash: stored.hash, generation: generation)
                throttle.recordSuccess(key: clientID, sourceAddress: sourceAddress)
                return AuthenticatedClient(client: client, method: method)
            }
        }
        throttle.recordFailure(key: clientID, sourceAddress: sourceAddress)
        throw Self.failure("wrong secret for client \(clientID)" + (unusableHash ? " (a stored secret hash is unusable)" : ""))
    }

    /// The secrets that may authenticate at `now`: current ones first, then the newest in its grace period,
    /// so that the usual case costs one verification.
    static func usableSecrets(_ secrets: [StoredClientSecret], at now: Date) -> [StoredClientSecret] {
        secrets.filter { $0.isUsable(at: now) }.sorted { a, b in
            if (a.expiresAt == nil) != (b.expiresAt == nil) { return a.expiresAt == nil }
            return a.createdAt > b.createdAt
        }
    }

    /// Spends one Argon2 verification, as a real check would, then refuses: the time taken must not
    /// tell an unknown, disabled or differently registered client from a wrong secret.
    private func refuseAfterDummyVerification(clientID: String, secret: [UInt8], sourceAddress: String,
                                              detail: String) async throws -> AuthenticatedClient {
        do {
            _ = try await verify(secret, against: try await dummyHashValue())
        } catch is Argon2Error {
            // Cannot happen with a hash made here; the outcome is a refusal either way.
        }
        throttle.recordFailure(key: clientID, sourceAddress: sourceAddress)
        throw Self.failure(detail)
    }

    private func authenticateAssertion(clientID: String, assertion: String) async throws -> AuthenticatedClient {
        guard let client = try await store.credentials(clientID: clientID)?.client else {
            throw Self.failure("unknown client \(clientID)")
        }
        guard !client.isDisabled else { throw Self.failure("client \(clientID) is disabled") }
        guard client.authMethod == .privateKeyJWT else {
            throw Self.failure("client \(clientID) is registered for \(client.authMethod.rawValue), not private_key_jwt")
        }
        let verified = try assertions.verify(assertion, client: client, now: clock())
        // OIDC Core §9: jti "A unique identifier for the token, which can be used to prevent reuse of the token.
        // These tokens MUST only be used once". Kept until the assertion could no longer be accepted.
        let recorded = try await store.recordAssertionID(verified.jwtID, clientID: client.id,
                                                         expiresAt: verified.expiresAt.addingTimeInterval(assertions.clockSkew))
        guard recorded else { throw Self.failure("replayed assertion jti for client \(clientID)") }
        return AuthenticatedClient(client: client, method: .privateKeyJWT)
    }

    private func authenticatePublic(clientID: String) async throws -> AuthenticatedClient {
        guard let client = try await store.credentials(clientID: clientID)?.client else {
            throw Self.failure("unknown client \(clientID)")
        }
        guard !client.isDisabled else { throw Self.failure("client \(clientID) is disabled") }
        // A confidential client must authenticate: presenting only its id proves nothing.
        guard client.authMethod == .none else {
            throw Self.failure("client \(clientID) is registered for \(client.authMethod.rawValue) but sent no credentials")
        }
        return AuthenticatedClient(client: client, method: .none)
    }

    // MARK: - Argon2

    /// One Argon2id verification on the pool. libargon2 compares the tags in constant time.
    private func verify(_ secret: [UInt8], against hash: String) async throws -> Bool {
        verifications.withLock { $0 += 1 }
        do {
            return try await argon2.verify(password: secret, encoded: hash)
        } catch let error as Argon2PoolError {
            throw Self.unavailable(error)
        }
    }

    private func dummyHashValue() async throws -> String {
        do {
            return try await dummyHash.value(on: argon2)
        } catch let error as Argon2PoolError {
            throw Self.unavailable(error)
        }
    }

    // MARK: - Errors

    /// `invalid_client` with the one description every authentication failure shares.
    static func failure(_ detail: String) -> OAuthError {
        OAuthError(.invalidClient, failureDescription, detail: detail, isRedirectable: false)
    }

    private static func unavailable(_ error: Argon2PoolError) -> OAuthError {
        OAuthError(.temporarilyUnavailable, OAuthError.temporarilyUnavailable.errorDescription,
                   detail: error == .overloaded ? "Argon2 pool overloaded" : "Argon2 pool shut down", isRedirectable: false)
    }
}

/// The credentials a request presents, by method, before anything is looked up.
enum PresentedCredentials: Equatable {
    case secret(clientID: String, secret: [UInt8], method: Client.AuthMethod)
    case assertion(clientID: String, assertion: String)
    case none(clientID: String)

    init(_ request: ClientAuthenticationRequest) throws(OAuthError) {
        let parameters = request.parameters
        // A scheme other than Basic is not client authentication here (nil), so it is ignored.
        let basic = try request.authorization.flatMap { header throws(OAuthError) in try BasicCredentials.parse(authorization: header) }
        let clientIDParameter = parameters["client_id"]
        let secretParameter = parameters["client_secret"]
        let assertion = parameters["client_assertion"]
        let assertionType = parameters["client_assertion_type"]
        let usesAssertion = assertion != nil || assertionType != nil

        // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
        let methods = [basic != nil, secretParameter != nil, usesAssertion].filter { $0 }.count
        guard methods <= 1 else {
            throw OAuthError.invalidRequest("Use exactly one client authentication method.", detail: "\(methods) methods in one request")
        }
        if let clientIDParameter { try Self.check(clientID: clientIDParameter) }

        if let basic {
            // RFC 6749 §2.3.1 sends the id in the header; a client_id parameter must then name the same client.
            if let clientIDParameter, clientIDParameter != basic.clientID {
                throw OAuthError.invalidRequest("The client_id parameter does not match the Authorization header.")
            }
            // An id that no client can have fails authentication like an unknown one (401 with the header).
            guard Self.isWellFormed(clientID: basic.clientID) else { throw ClientAuthenticator.failure("malformed client id in the Authorization header") }
            self = .secret(clientID: basic.clientID, secret: try Self.secretBytes(basic.secret), method: .clientSecretBasic)
        } else if let secretParameter {
            // RFC 6749 §2.3.1: client_secret_post sends "client_id REQUIRED" with "client_secret REQUIRED".
            guard let clientIDParameter else { throw OAuthError.invalidRequest("The client_id parameter is missing.") }
            self = .secret(clientID: clientIDParameter, secret: try Self.secretBytes(secretParameter), method: .clientSecretPost)
        } else if usesAssertion {
            // RFC 7521 §4.2: client_assertion_type "MUST be "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"".
            guard assertionType == ClientAssertionVerifier.assertionType else {
                throw OAuthError.invalidRequest("The client_assertion_type must be \(ClientAssertionVerifier.assertionType).")
            }
            guard let assertion, !assertion.isEmpty else { throw OAuthError.invalidRequest("The client_assertion parameter is missing.") }
            guard assertion.utf8.count <= ClientAssertionVerifier.maximumLength else {
                throw ClientAuthenticator.failure("assertion longer than \(ClientAssertionVerifier.maximumLength) bytes")
            }
            // RFC 7521 §4.2: client_id is optional; the client is "identified by the subject of the assertion".
            guard let clientID = clientIDParameter ?? ClientAssertionVerifier.unverifiedClientID(assertion) else {
                throw ClientAuthenticator.failure("assertion names no client")
            }
            guard Self.isWellFormed(clientID: clientID) else { throw ClientAuthenticator.failure("assertion names a malformed client id") }
            self = .assertion(clientID: clientID, assertion: assertion)
        } else if let clientIDParameter {
            self = .none(clientID: clientIDParameter)
        } else {
            throw ClientAuthenticator.failure("no client authentication in the request")
        }
    }

    private static func check(clientID: String) throws(OAuthError) {
        guard isWellFormed(clientID: clientID) else {
            throw OAuthError.invalidRequest("The client_id is not 1 to \(ClientAuthenticator.maximumClientIDLength) printable ASCII characters.")
        }
    }

    static func isWellFormed(clientID: String) -> Bool {
        let bytes = clientID.utf8
        return !bytes.isEmpty && bytes.count <= ClientAuthenticator.maximumClientIDLength && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private static func secretBytes(_ secret: String) throws(OAuthError) -> [UInt8] {
        guard secret.utf8.count <= ClientAuthenticator.maximumSecretLength else {
            throw OAuthError.invalidRequest("The client secret is longer than \(ClientAuthenticator.maximumSecretLength) bytes.")
        }
        return Array(secret.utf8)
    }
}
