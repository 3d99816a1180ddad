import Foundation
import OAuth
import Synchronization

/// Usernames by subject, for introspecting JWT access tokens without a database round trip.
///
/// Entries are kept only while user changes are being received: a rename, disable or delete drops
/// the user's entry on every instance at once. While the change feed is down, nothing is cached
/// and every lookup reads storage.
final class UsernameCache: Sendable {
    let users: any UserStore
    private let state = Mutex(State())
    private let tasks = BackgroundTasks()

    /// Bounds memory: at most this many users are cached.
    static let capacity = 50_000

    private struct State {
        var isCaching = false
        var entries: [UUID: String?] = [:]
        /// Bumped by every invalidation, so that a read that raced a change is not cached.
        var generation: UInt64 = 0
    }

    init(users: any UserStore, feed: (any ChangeFeed)?) {
        self.users = users
        feed?.observe(.users) { [weak self] event in self?.observe(event) }
    }

    /// The username of `subject` (nil for a subject that is not a user, or a deleted or disabled one).
    func username(subject: String) async throws -> String? {
        guard let id = UUID(uuidString: subject) else { return nil }
        let (cached, generation) = state.withLock { state -> (String??, UInt64?) in
            guard state.isCaching else { return (nil, nil) }
            return (state.entries[id], state.generation)
        }
        if let cached { return cached }
        let user = try await users.user(id: id)
        let username = user.flatMap { $0.isDisabled ? nil : $0.username }
        if let generation {
            state.withLock { state in
                guard state.isCaching, state.generation == generation else { return }
                if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
                state.entries[id] = username
            }
        }
        return username
    }

    /// The cached username of `subject` (the inner nil: not a user, or a deleted or disabled one);
    /// nil when nothing is cached for it. Never waits.
    func cachedUsername(subject: String) -> String?? {
        guard let id = UUID(uuidString: subject) else { return .some(nil) }
        return state.withLock { state in state.isCaching ? state.entries[id] : nil }
    }

    /// A rename, disable or delete drops the entry where it is heard, at once.
    private func observe(_ event: ChangeEvent) {
        state.withLock { state in
            state.generation &+= 1
            switch event {
            case .changed(let payload):
                if let id = UUID(uuidString: payload) { state.entries[id] = nil } else { state.entries.removeAll() }
            case .connected:
                state.entries.removeAll()
                state.isCaching = true
            case .disconnected:
                state.entries.removeAll()
                state.isCaching = false
            }
        }
    }

    func start() {}

    func stop() async {
        await tasks.stopAll()
    }
}
