import Foundation
import HTTPServer
import JOSE
import OAuth
import PasswordHashing

/// The login form's check of a username and password: Argon2id on a pool of its own, a dummy hash
/// for unknown usernames, a throttle that never lets one person lock out another, and the
/// known-device cookie that proves a browser signed in to an account before.
final class PasswordLogin: Sendable {
    let users: any UserStore
    let cookies: Cookies
    /// Argon2id for passwords: a pool of its own, so that a flood of logins can never take the
    /// verification of client secrets (machine authentication) with it.
    let argon2: Argon2Pool
    /// Failed logins: the 5th failure for an account from one source address, or the 20th from a
    /// source (which many people may share behind a NAT), starts a backoff of 1 s for that source,
    /// doubling with each further failure up to 5 minutes. The 10th failure for an account from
    /// anywhere backs off every browser that has not signed in to that account before; a browser
    /// that has (it holds the account's known-device cookie) is never held back by others' failures.
    let throttle = AuthenticationThrottle(freeFailures: 4, addressFreeFailures: 19, keyFreeFailures: 9,
                                          initialBackoff: .seconds(1), maximumBackoff: .seconds(300))
    private let dummyHash: DummyHash
    private let deviceKey: [UInt8]

    /// Threads and queue of ``argon2``: one core's worth, and a queue that answers a flood with 503 quickly.
    static let argon2Threads = 1
    static let argon2MaxQueued = 16
    /// How long a browser stays known for an account after signing in (the longest cookie lifetime browsers keep).
    static let knownDeviceLifetime = 400 * 86_400
    /// The one message of every failed login: it does not say whether the user exists.
    static let invalidCredentials = "Invalid username or password."

    init(users: any UserStore, cookies: Cookies, kek: KeyEncryptionKey, argon2Parameters: Argon2Parameters) {
        self.users = users
        self.cookies = cookies
        self.argon2 = Argon2Pool(threads: Self.argon2Threads, maxQueued: Self.argon2MaxQueued)
        self.dummyHash = DummyHash(parameters: argon2Parameters)
        self.deviceKey = kek.derivedKey(purpose: "known browser devices")
    }

    enum Outcome {
        case success(User)
        case failure
        case throttled(retryAfter: Int)
    }

    /// Checks a username and password. Every failure takes about one Argon2id verification:
    /// an unknown username is verified against a dummy hash, and a disabled user's password is
    /// verified before the refusal, so the time does not tell which usernames exist.
    ///
    /// Failures count per source address (an IPv6 /64 is one source) and per account from that
    /// source; the account's failures from every source count only against browsers that have
    /// never signed in to it (``isKnownDevice(_:userID:)``).
    func check(username: String, password: String, request: HTTPRequest) async throws -> Outcome {
        let sourceAddress = request.remoteAddress
        let account = "user:" + username.lowercased().prefix(User.maximumUsernameLength)
        if let wait = throttle.retryAfter(key: account, sourceAddress: sourceAddress, keyWide: false) {
            return .throttled(retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
        }
        let candidate = User.usernameProblem(username) == nil && !password.isEmpty && password.utf8.count <= User.maximumPasswordBytes
            ? try await users.credentials(username: username) : nil
        let isKnown = candidate.map { isKnownDevice(request, userID: $0.user.id) } ?? false
        if !isKnown, let wait = throttle.retryAfter(key: account, sourceAddress: sourceAddress, keyWide: true) {
            return .throttled(retryAfter: AuthenticationThrottle.retryAfterSeconds(wait))
        }
        // Passwords are hashed as their UTF-8 bytes, exactly as typed (as `tessera users` does).
        let matches: Bool
        if let candidate {
            matches = try await argon2.verify(password: Array(password.utf8), encoded: candidate.passwordHash)
        } else {
            _ = try await argon2.verify(password: Array(password.utf8.prefix(User.maximumPasswordBytes)), encoded: try await dummyHash.value(on: argon2))
            matches = false
        }
        guard let candidate, matches, !candidate.user.isDisabled else {
            throttle.recordFailure(key: account, sourceAddress: sourceAddress)
            return .failure
        }
        throttle.recordSuccess(key: account, sourceAddress: sourceAddress)
        return .success(candidate.user)
    }

    /// The `Set-Cookie` value marking this browser as known for `userID`: a random id and an HMAC
    /// binding it to the account, under a key derived from the key-encryption key. It proves only
    /// that this browser signed in to that account before; it grants nothing.
    func knownDeviceCookie(userID: UUID) -> String {
        let id = Base64URL.encode(SecureRandom.bytes(16))
        let value = id + "." + Base64URL.encode(HMACSHA256.authenticate(Self.deviceMessage(userID: userID, id: Substring(id)), key: deviceKey))
        return cookies.setCookie(cookies.device, value, maxAge: Self.knownDeviceLifetime)
    }

    /// Whether the request carries a known-device cookie for `userID`.
    func isKnownDevice(_ request: HTTPRequest, userID: UUID) -> Bool {
        guard let value = Cookies.value(cookies.device, in: request), value.utf8.count <= 128 else { return false }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Base64URL.decode(String(parts[1])) else { return false }
        return constantTimeEquals(mac, HMACSHA256.authenticate(Self.deviceMessage(userID: userID, id: parts[0]), key: deviceKey))
    }

    private static func deviceMessage(userID: UUID, id: Substring) -> [UInt8] {
        Array("known device:\(userID.uuidString.lowercased()):\(id)".utf8)
    }

    func shutdown() { argon2.shutdown() }
}
