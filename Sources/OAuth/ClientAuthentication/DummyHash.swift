import JOSE
import PasswordHashing
import Synchronization

/// The Argon2id hash a secret or password is checked against when there is nothing real to check
/// it against (an unknown client or username): the refusal then costs one verification like any
/// other, so the time taken does not tell who exists. Made once, lazily, from a random password,
/// at the cost of newly hashed secrets.
public final class DummyHash: Sendable {
    private let parameters: Argon2Parameters
    private let value = Mutex<String?>(nil)

    public init(parameters: Argon2Parameters) { self.parameters = parameters }

    /// The hash, made on `argon2` the first time.
    public func value(on argon2: Argon2Pool) async throws -> String {
        if let existing = value.withLock({ $0 }) { return existing }
        let made = try await argon2.hash(password: SecureRandom.bytes(32), parameters: parameters)
        // Two first requests may both have made one; keep the first stored.
        return value.withLock { stored in
            if let stored { return stored }
            stored = made
            return made
        }
    }
}
