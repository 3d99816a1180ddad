/// What changed in storage, for the caches every instance keeps.
public enum ChangeTopic: Sendable, Hashable, CaseIterable {
    case signingKeys, clients, users, revocations
}

/// One event of a ``ChangeFeed``.
public enum ChangeEvent: Sendable, Hashable {
    /// Something of the topic changed; the payload names it (a client id, a user id, a revoked `jti`…).
    case changed(payload: String)
    /// The feed is connected: after the first connect and after every reconnect. Changes made while
    /// it was disconnected were not heard, so a cache resynchronises (reloads what it keeps) now.
    case connected
    /// The feed was lost and is reconnecting: until `connected`, nothing cached may be trusted.
    case disconnected
}

/// Storage's announcements of changes, so that every instance's caches follow the shared state.
public protocol ChangeFeed: Sendable {
    /// The events of `topic`; subscribe before the feed starts.
    func subscribe(_ topic: ChangeTopic) -> AsyncStream<ChangeEvent>

    /// Calls `handler` for every event of `topic` where the event arrives, with no task in between:
    /// for reactions that must take effect at once (dropping a cache entry). `handler` must be cheap
    /// and must not block. Register before the feed starts.
    func observe(_ topic: ChangeTopic, _ handler: @escaping @Sendable (ChangeEvent) -> Void)
}
