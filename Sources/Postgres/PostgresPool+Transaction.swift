extension PostgresPool {
    /// Runs `body` in a transaction on one connection: `BEGIN ISOLATION LEVEL …`, `body`, `COMMIT`.
    ///
    /// If `body` throws, the transaction is rolled back and the error rethrown. On a
    /// serialization failure (40001) or deadlock (40P01), from `body` or from `COMMIT`, the
    /// whole transaction runs again after a jittered backoff, up to `maxAttempts` times in
    /// all, so `body` must be safe to repeat. A `COMMIT` that does not commit throws.
    public func transaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted, maxAttempts: Int = 5,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let attempts = max(1, maxAttempts)
        var attempt = 1
        while true {
            do {
                return try await withConnection { connection in
                    try connection.transaction(isolation: isolation, body)
                }
            } catch let error as PostgresError where error.sqlState?.isTransactionRetryable == true && attempt < attempts {
                try await Task.sleep(for: Self.retryDelay(afterAttempt: attempt))
                attempt += 1
            }
        }
    }

    /// Exponential backoff from 10 ms, capped at 500 ms, with "equal jitter" (half fixed,
    /// half random) so that the transactions that collided do not collide again in lockstep.
    static func retryDelay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(500, 10 << min(attempt - 1, 10))
        let half = ceiling / 2
        return .milliseconds(half + Int.random(in: 0...max(half, 1)))
    }
}
