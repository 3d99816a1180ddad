import Foundation
import OAuth
import Synchronization

/// An in-memory ``ClientCredentialStore``: clients with their secrets, and the assertion ids seen.
final class InMemoryClientCredentialStore: ClientCredentialStore {
    struct Unavailable: Error, Equatable {}

    private struct State {
        var clients: [String: ClientCredentials] = [:]
        /// Assertion ids per client, with the time each may be forgotten.
        var assertionIDs: [String: [String: Date]] = [:]
        var lookups = 0
        var isFailing = false
    }

    private let state = Mutex(State())

    func put(_ credentials: ClientCredentials) {
        state.withLock { $0.clients[credentials.client.id] = credentials }
    }

    func update(_ clientID: String, _ change: (inout ClientCredentials) -> Void) {
        state.withLock { state in
            guard var credentials = state.clients[clientID] else { return }
            change(&credentials)
            state.clients[clientID] = credentials
        }
    }

    /// Makes every call throw ``Unavailable``, as a database that is down would.
    func setFailing(_ failing: Bool) {
        state.withLock { $0.isFailing = failing }
    }

    var lookups: Int { state.withLock { $0.lookups } }

    func credentials(clientID: String) async throws -> ClientCredentials? {
        try state.withLock { state in
            guard !state.isFailing else { throw Unavailable() }
            state.lookups += 1
            return state.clients[clientID]
        }
    }

    func recordAssertionID(_ jti: String, clientID: String, expiresAt: Date) async throws -> Bool {
        try state.withLock { state in
            guard !state.isFailing else { throw Unavailable() }
            return state.assertionIDs[clientID, default: [:]].updateValue(expiresAt, forKey: jti) == nil
        }
    }

    func assertionIDExpiry(_ jti: String, clientID: String) -> Date? {
        state.withLock { $0.assertionIDs[clientID]?[jti] }
    }
}

/// A clock tests move by hand: one offset drives both the wall clock and the monotonic clock.
final class TestClock: Sendable {
    let startDate = Date(timeIntervalSince1970: 1_800_000_000)
    let startInstant = ContinuousClock.now
    private let offset = Mutex<Duration>(.zero)

    func advance(by duration: Duration) {
        offset.withLock { $0 += duration }
    }

    var date: Date {
        startDate.addingTimeInterval(offset.withLock { $0 } / .seconds(1))
    }

    var instant: ContinuousClock.Instant {
        startInstant + offset.withLock { $0 }
    }
}
