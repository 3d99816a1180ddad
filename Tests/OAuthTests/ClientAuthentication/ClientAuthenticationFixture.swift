import Foundation
import JOSE
@testable import PasswordHashing
@testable import OAuth
import TestSupport

/// Cheap Argon2 parameters keep the suites fast; the algorithm is the same.
let fastArgon2 = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)

/// An authenticator wired to an in-memory store and a hand-moved clock.
struct AuthenticationFixture {
    static let tokenEndpoint = "https://auth.example.com/token"
    static let issuer = "https://auth.example.com"

    let store = InMemoryClientCredentialStore()
    let clock: TestClock
    let argon2: Argon2Pool
    let cache: VerifiedSecretCache
    let throttle: AuthenticationThrottle
    let authenticator: ClientAuthenticator
    let parameters: Argon2Parameters

    init(threads: Int = 1, maxQueued: Int = 64, parameters: Argon2Parameters = fastArgon2) {
        let clock = TestClock()
        self.clock = clock
        self.parameters = parameters
        argon2 = Argon2Pool(threads: threads, maxQueued: maxQueued)
        cache = VerifiedSecretCache(clock: { clock.instant })
        throttle = AuthenticationThrottle(clock: { clock.instant })
        authenticator = ClientAuthenticator(
            store: store, argon2: argon2, cache: cache, throttle: throttle,
            assertionAudience: Self.issuer, dummyHashParameters: parameters, clock: { clock.date })
    }

    static func client(_ id: String, method: Client.AuthMethod, jwks: JWKS? = nil, isDisabled: Bool = false) -> Client {
        let created = Date(timeIntervalSince1970: 1_700_000_000)
        return Client(id: id, name: id, type: method == .none ? .public : .confidential, authMethod: method,
                      grantTypes: method == .none ? [.authorizationCode] : [.clientCredentials],
                      redirectURIs: method == .none ? ["https://app.example.com/cb"] : [],
                      allowedScopes: Scope([]), defaultScopes: Scope([]), audiences: ["https://api.example.com"],
                      jwks: jwks, isDisabled: isDisabled, createdAt: created, updatedAt: created)
    }

    /// Registers a client whose secrets (given in clear) are stored as Argon2id hashes.
    @discardableResult
    func register(_ id: String, method: Client.AuthMethod, secrets: [(secret: String, expiresAt: Date?)] = [],
                  jwks: JWKS? = nil, isDisabled: Bool = false) throws -> ClientCredentials {
        let stored = try secrets.enumerated().map { index, entry in
            StoredClientSecret(hash: try Argon2id.hash(password: Array(entry.secret.utf8), parameters: parameters),
                               createdAt: clock.date.addingTimeInterval(TimeInterval(index)), expiresAt: entry.expiresAt)
        }
        let credentials = ClientCredentials(client: Self.client(id, method: method, jwks: jwks, isDisabled: isDisabled), secrets: stored)
        store.put(credentials)
        return credentials
    }

    func register(_ id: String, method: Client.AuthMethod, secret: String) throws {
        try register(id, method: method, secrets: [(secret, nil)])
    }

    func request(authorization: String? = nil, _ parameters: [String: String] = [:], from address: String = "192.0.2.1") -> ClientAuthenticationRequest {
        ClientAuthenticationRequest(authorization: authorization, parameters: parameters, sourceAddress: address)
    }

    /// `Authorization: Basic` as RFC 6749 §2.3.1 builds it: each half form-urlencoded, then base64.
    static func basic(_ id: String, _ secret: String) -> String {
        "Basic " + Data((FormURLEncoded.encode(id) + ":" + FormURLEncoded.encode(secret)).utf8).base64EncodedString()
    }

    func basicRequest(_ id: String, _ secret: String, from address: String = "192.0.2.1") -> ClientAuthenticationRequest {
        request(authorization: Self.basic(id, secret), from: address)
    }
}

/// Builds client assertions, including malformed ones no honest library would produce.
enum Assertion {
    static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    /// Claims valid at `now` for `clientID`, with `changes` applied (`NSNull()` removes a claim).
    static func claims(_ clientID: String, now: Date, _ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": clientID, "sub": clientID, "aud": AuthenticationFixture.issuer,
            "exp": Int(now.timeIntervalSince1970) + 60, "iat": Int(now.timeIntervalSince1970),
            "jti": UUID().uuidString,
        ]
        for (name, value) in changes {
            claims[name] = value is NSNull ? nil : value
        }
        return claims
    }

    /// A compact JWS of `claims` signed by `key`; the header is `{"alg":…,"kid":…}` unless `header` is given.
    static func sign(_ claims: [String: Any], key: SigningKey, header: [String: Any]? = nil) throws -> String {
        let payload = try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys])
        return try sign(payload: Array(payload), key: key, header: header)
    }

    static func sign(payload: [UInt8], key: SigningKey, header: [String: Any]? = nil) throws -> String {
        let headerJSON = try JSONSerialization.data(withJSONObject: header ?? ["alg": key.algorithm.rawValue, "kid": key.kid], options: [.sortedKeys])
        let input = Base64URL.encode(Array(headerJSON)) + "." + Base64URL.encode(payload)
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    /// `client_assertion` parameters for `assertion`.
    static func parameters(_ assertion: String, clientID: String? = nil) -> [String: String] {
        var parameters = ["client_assertion": assertion, "client_assertion_type": type, "grant_type": "client_credentials"]
        parameters["client_id"] = clientID
        return parameters
    }
}

/// Keeps every thread of an ``Argon2Pool`` busy until released, so a test can fill the pool deterministically.
struct PoolOccupation {
    let release: @Sendable () -> Void
    let finished: Task<Void, Never>

    static func occupy(_ pool: Argon2Pool, threads: Int) async -> PoolOccupation {
        let gate = DispatchSemaphore(value: 0)
        let (started, continuation) = AsyncStream<Void>.makeStream()
        let finished = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<threads {
                    group.addTask { _ = try? await pool.run { continuation.yield(); gate.wait() } }
                }
            }
        }
        var iterator = started.makeAsyncIterator()
        for _ in 0..<threads { _ = await iterator.next() }
        return PoolOccupation(release: { for _ in 0..<threads { gate.signal() } }, finished: finished)
    }
}
