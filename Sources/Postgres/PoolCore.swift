import Foundation

/// A caller's request for a connection.
struct PoolJob: Sendable {
    let id: UInt64
    let enqueuedAt: ContinuousClock.Instant
    /// When the caller stops waiting for a free connection.
    let deadline: ContinuousClock.Instant
    /// Runs on a connection thread and resumes the caller.
    let run: @Sendable (WorkerConnection) -> Void
    /// Resumes the caller with an error instead (closed, timed out, cancelled).
    let fail: @Sendable (any Error) -> Void
}

/// The shared state of a `PostgresPool`: the job queue, its threads and counters.
///
/// Everything mutable is guarded by `condition`. Each job leaves the queue exactly once,
/// under the lock (taken by a worker, timed out, cancelled, or failed at close), so each
/// caller is resumed exactly once.
final class PoolCore: @unchecked Sendable {
    let configuration: PostgresConfiguration
    let size: Int
    let maxWaiters: Int
    let acquireTimeout: Duration

    private let condition = NSCondition()
    private var queue: [PoolJob] = []
    private var isClosed = false
    private var inUse = 0
    private var liveThreads = 0
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private var nextJobID: UInt64 = 0
    private var totalWait: Duration = .zero
    private var acquisitions = 0
    private var timeouts = 0
    private var rejections = 0

    init(configuration: PostgresConfiguration, size: Int, maxWaiters: Int, acquireTimeout: Duration) {
        self.configuration = configuration
        self.size = size
        self.maxWaiters = maxWaiters
        self.acquireTimeout = acquireTimeout
    }

    func startThreads() {
        condition.lock()
        liveThreads = size + 1
        condition.unlock()
        for index in 0..<size {
            let thread = Thread { [self] in workerLoop() }
            thread.name = "postgres-pool-\(index)"
            thread.start()
        }
        let timer = Thread { [self] in timeoutLoop() }
        timer.name = "postgres-pool-timeouts"
        timer.start()
    }

    func makeJobID() -> UInt64 {
        condition.lock()
        defer { condition.unlock() }
        nextJobID += 1
        return nextJobID
    }

    func enqueue(_ job: PoolJob) {
        condition.lock()
        if isClosed {
            condition.unlock()
            job.fail(PostgresError(kind: .closed, message: "the connection pool is closed"))
            return
        }
        // Jobs that idle connections are about to pick up are not waiting.
        let idle = size - inUse
        if queue.count >= maxWaiters + idle {
            rejections += 1
            condition.unlock()
            job.fail(PostgresError(
                kind: .poolExhausted,
                message: "all \(size) connections are busy and \(maxWaiters) callers are already waiting"))
            return
        }
        queue.append(job)
        condition.broadcast()
        condition.unlock()
    }

    func cancel(_ id: UInt64) {
        condition.lock()
        guard let index = queue.firstIndex(where: { $0.id == id }) else {
            condition.unlock()
            return
        }
        let job = queue.remove(at: index)
        condition.unlock()
        job.fail(CancellationError())
    }

    var statistics: PostgresPoolStatistics {
        condition.lock()
        defer { condition.unlock() }
        return PostgresPoolStatistics(
            size: size, inUse: inUse, waiting: queue.count, totalWaitTime: totalWait,
            acquisitions: acquisitions, timeouts: timeouts, rejections: rejections)
    }

    /// Marks the pool closed and fails queued callers; threads exit after their current job.
    func shutdown(whenDone continuation: CheckedContinuation<Void, Never>? = nil) {
        condition.lock()
        isClosed = true
        let abandoned = queue
        queue.removeAll()
        var resumeNow = false
        if let continuation {
            if liveThreads == 0 { resumeNow = true } else { closeWaiters.append(continuation) }
        }
        condition.broadcast()
        condition.unlock()
        for job in abandoned {
            job.fail(PostgresError(kind: .closed, message: "the connection pool was closed"))
        }
        if resumeNow { continuation?.resume() }
    }

    // MARK: - Threads

    private func workerLoop() {
        let worker = WorkerConnection(configuration: configuration)
        while let job = nextJob() {
            job.run(worker)
            condition.lock()
            inUse -= 1
            condition.broadcast()
            condition.unlock()
        }
        worker.close()
        threadExited()
    }

    private func nextJob() -> PoolJob? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !isClosed {
            condition.wait()
        }
        guard !queue.isEmpty else { return nil }
        let job = queue.removeFirst()
        inUse += 1
        acquisitions += 1
        totalWait += ContinuousClock.now - job.enqueuedAt
        return job
    }

    /// Fails callers whose acquire deadline passed while every connection stayed busy.
    private func timeoutLoop() {
        condition.lock()
        while !isClosed {
            guard let earliest = queue.map(\.deadline).min() else {
                condition.wait()
                continue
            }
            let now = ContinuousClock.now
            if earliest > now {
                let remaining = earliest - now
                let seconds = Double(remaining.components.seconds) + Double(remaining.components.attoseconds) / 1e18
                _ = condition.wait(until: Date(timeIntervalSinceNow: seconds))
                continue
            }
            let expired = queue.filter { $0.deadline <= now }
            queue.removeAll { $0.deadline <= now }
            timeouts += expired.count
            condition.unlock()
            for job in expired {
                let waited = now - job.enqueuedAt
                job.fail(PostgresError(
                    kind: .poolExhausted,
                    message: "no connection became free within \(waited.formatted(.units(allowed: [.seconds, .milliseconds])))"))
            }
            condition.lock()
        }
        condition.unlock()
        threadExited()
    }

    private func threadExited() {
        condition.lock()
        liveThreads -= 1
        var waiters: [CheckedContinuation<Void, Never>] = []
        if liveThreads == 0 {
            waiters = closeWaiters
            closeWaiters.removeAll()
        }
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }
}

/// The connection a pool thread owns; it never leaves that thread.
final class WorkerConnection {
    private let configuration: PostgresConfiguration
    private var connection: PostgresConnection?

    init(configuration: PostgresConfiguration) {
        self.configuration = configuration
    }

    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try acquire()
        defer { release(connection) }
        return try body(connection)
    }

    func close() {
        connection = nil
    }

    private func acquire() throws -> PostgresConnection {
        if let connection, connection.checkAlive() {
            return connection
        }
        connection = nil
        let fresh = try PostgresConnection.connect(configuration)
        connection = fresh
        return fresh
    }

    /// Never hands a connection back inside a transaction: roll back, or drop it.
    private func release(_ used: PostgresConnection) {
        guard used.isHealthy else {
            connection = nil
            return
        }
        switch used.transactionStatus {
        case .idle:
            return
        case .inTransaction, .inError:
            used.rollbackQuietly()
            if !used.isHealthy || used.transactionStatus != .idle {
                connection = nil
            }
        case .active, .unknown:
            connection = nil
        }
    }
}
