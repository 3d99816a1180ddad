import Foundation
import OAuth
import Synchronization

/// An in-memory ``ClientCredentialStore``: clients with their secrets, and the assertion ids seen.
public final class InMemoryClientCredentialStore: ClientCredentialStore {
    public struct Unavailable: Error, Equatable {
        public init() {}
    }

    public init() {}

    private struct State {
        var clients: [String: ClientCredentials] = [:]
        /// Assertion ids per client, with the time each may be forgotten.
        var assertionIDs: [String: [String: Date]] = [:]
        var lookups = 0
        var isFailing = false
    }

    private let state = Mutex(State())

    public func put(_ credentials: ClientCredentials) {
        state.withLock { $0.clients[credentials.client.id] = credentials }
    }

    public func update(_ clientID: String, _ change: (inout ClientCredentials) -> Void) {
        state.withLock { state in
            guard var credentials = state.clients[clientID] else { return }
            change(&credentials)
            state.clients[clientID] = credentials
        }
    }

    /// Makes every call throw ``Unavailable``, as a database that is down would.
    public func setFailing(_ failing: Bool) {
        state.withLock { $0.isFailing = failing }
    }

    public var lookups: Int { state.withLock { $0.lookups } }

    public func credentials(clientID: String) async throws -> ClientCredentials? {
        try state.withLock { state in
            guard !state.isFailing else { throw Unavailable() }
            state.lookups += 1
            return state.clients[clientID]
        }
    }

    public func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try state.withLock { state in
            guard !state.isFailing else { throw Unavailable() }
            return state.assertionIDs[clientID, default: [:]].updateValue(expiresAt, forKey: jti) == nil
        }
    }

    public func assertionIDExpiry(_ jti: String, clientID: String) -> Date? {
        state.withLock { $0.assertionIDs[clientID]?[jti] }
    }
}

