import Foundation

/// A fixed set of connections, each owned by its own OS thread, shared by async callers.
///
/// Work is queued in arrival order and picked up by whichever connection thread is free;
/// libpq's blocking calls happen on those threads only, and callers are resumed through
/// continuations. Connections open lazily, are checked before each use, and are replaced
/// when found broken, so the pool recovers by itself after the server restarts.
public final class PostgresPool: Sendable {
    private let core: PoolCore

    /// - Parameters:
    ///   - size: connections (and threads) in the pool.
    ///   - maxWaiters: callers allowed to wait for a busy pool; one more fails at once with
    ///     `.poolExhausted`, so a stalled database cannot queue requests without bound.
    ///   - acquireTimeout: how long a caller waits for a connection before `.poolExhausted`.
    public init(
        configuration: PostgresConfiguration, size: Int = 8, maxWaiters: Int = 1024,
        acquireTimeout: Duration = .seconds(5)
    ) {
        core = PoolCore(
            configuration: configuration, size: max(1, size), maxWaiters: max(0, maxWaiters),
            acquireTimeout: acquireTimeout)
        core.startThreads()
    }

    deinit {
        core.shutdown()
    }

    /// Runs `body` with a connection, on the connection's thread.
    ///
    /// Whatever `body` leaves open is rolled back before the connection is reused. A
    /// connection that broke is replaced on next use.
    public func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection(acquireTimeout: core.acquireTimeout, body)
    }

    /// `withConnection(_:)` with its own limit on the wait for a free connection.
    public func withConnection<T: Sendable>(
        acquireTimeout: Duration, _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let id = core.makeJobID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let job = PoolJob(
                    id: id,
                    enqueuedAt: .now,
                    deadline: .now + acquireTimeout,
                    run: { worker in
                        continuation.resume(with: Result { try worker.withConnection(body) })
                    },
                    fail: { error in
                        continuation.resume(throwing: error)
                    })
                core.enqueue(job)
            }
        } onCancel: {
            core.cancel(id)
        }
    }

    /// Runs one statement on any free connection.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        try await withConnection { connection in
            try connection.query(query)
        }
    }

    /// Whether the database answers `SELECT 1` within `timeout` (for readiness probes).
    public func ping(timeout: Duration = .seconds(2)) async -> Bool {
        let answer = OneShotAnswer()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            answer.install(continuation)
            let probe = Task {
                let result = try? await self.withConnection(acquireTimeout: timeout) { connection in
                    try connection.query("SELECT 1")
                }
                answer.give(result != nil)
            }
            Task {
                try? await Task.sleep(for: timeout)
                if answer.give(false) {
                    probe.cancel()
                }
            }
        }
    }

    /// Counters for metrics.
    public var statistics: PostgresPoolStatistics {
        core.statistics
    }

    /// Fails every waiting caller with `.closed`, lets running work finish, closes the
    /// connections and returns once every pool thread has exited.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            core.shutdown(whenDone: continuation)
        }
    }
}

/// A snapshot of the pool's counters.
public struct PostgresPoolStatistics: Sendable, Hashable {
    /// Connections (threads) in the pool.
    public var size: Int
    /// Connections running a caller's work right now.
    public var inUse: Int
    /// Callers queued for a connection.
    public var waiting: Int
    /// Time callers spent queued, summed over every acquisition.
    public var totalWaitTime: Duration
    /// Acquisitions so far.
    public var acquisitions: Int
    /// Callers that gave up after the acquire timeout.
    public var timeouts: Int
    /// Callers turned away at once because `maxWaiters` were already queued.
    public var rejections: Int
}

/// Resumes a continuation with the first answer given and ignores later ones.
private final class OneShotAnswer: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Bool, Never>?
    private var pending: Bool?
    private var answered = false

    func install(_ continuation: CheckedContinuation<Bool, Never>) {
        lock.lock()
        if let pending {
            lock.unlock()
            continuation.resume(returning: pending)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    /// Returns whether this call was the first answer.
    @discardableResult
    func give(_ value: Bool) -> Bool {
        lock.lock()
        guard !answered else {
            lock.unlock()
            return false
        }
        answered = true
        let continuation = self.continuation
        self.continuation = nil
        if continuation == nil { pending = value }
        lock.unlock()
        continuation?.resume(returning: value)
        return true
    }
}
