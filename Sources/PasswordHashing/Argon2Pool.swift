import Foundation
import Synchronization

/// Why the pool refused a job.
public enum Argon2PoolError: Error, Sendable, Equatable {
    /// Every thread is busy and `maxQueued` jobs already wait; the caller should answer 503 at once.
    case overloaded
    /// ``Argon2Pool/shutdown()`` was called.
    case shutDown
}

/// Counters for metrics.
public struct Argon2PoolStatistics: Sendable, Equatable {
    /// Jobs running on a pool thread now.
    public var running: Int
    /// Jobs waiting for a thread.
    public var queued: Int
    /// Jobs refused with ``Argon2PoolError/overloaded`` since the pool started.
    public var rejections: Int
}

/// Argon2 runs here, on a few threads of its own, never on Swift's cooperative pool.
///
/// One Argon2id verification blocks its thread for tens of milliseconds and uses
/// `memoryKiB` of memory; running it on the cooperative pool (as many threads as cores)
/// would stall every other task. Jobs are queued in arrival order and callers resumed
/// through continuations. The queue is bounded: when `maxQueued` jobs already wait, a new
/// one fails at once with ``Argon2PoolError/overloaded`` instead of waiting behind a flood.
public final class Argon2Pool: Sendable {
    /// Threads running Argon2; each holds at most one hash's memory at a time.
    public let threads: Int
    /// Jobs allowed to wait for a busy thread; bounds the latency and memory a flood can cause.
    public let maxQueued: Int

    private let core: Argon2PoolCore

    /// Starts `threads` threads (at least 1) that wait for jobs; `maxQueued` (at least 0) jobs may wait for them.
    public init(threads: Int = 2, maxQueued: Int = 64) {
        self.threads = max(1, threads)
        self.maxQueued = max(0, maxQueued)
        core = Argon2PoolCore(threads: self.threads, maxQueued: self.maxQueued)
        core.startThreads()
    }

    deinit {
        core.shutdown()
    }

    /// Verifies `password` against an Argon2id PHC string (see ``Argon2id/verify(password:encoded:)``).
    ///
    /// Throws ``Argon2PoolError/overloaded`` when `maxQueued` jobs already wait, ``Argon2PoolError/shutDown``
    /// after ``shutdown()``, `CancellationError` when the task is cancelled while queued, and
    /// ``Argon2Error`` when the stored string is unusable.
    public func verify(password: [UInt8], encoded: String) async throws -> Bool {
        try await run { try Argon2id.verify(password: password, encoded: encoded) }
    }

    /// Hashes `password` with a fresh salt (see ``Argon2id/hash(password:parameters:)``); throws as ``verify(password:encoded:)``.
    public func hash(password: [UInt8], parameters: Argon2Parameters) async throws -> String {
        try await run { try Argon2id.hash(password: password, parameters: parameters) }
    }

    /// Refuses new jobs, fails the queued ones with ``Argon2PoolError/shutDown``; threads exit after their current job.
    public func shutdown() {
        core.shutdown()
    }

    /// Running and queued jobs now, and rejections so far.
    public var statistics: Argon2PoolStatistics {
        core.statistics
    }

    /// Runs `work` on a pool thread. Internal so tests can occupy the threads deterministically.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        let id = core.makeJobID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                core.enqueue(Argon2PoolCore.Job(
                    id: id,
                    run: { continuation.resume(with: Result { try work() }) },
                    fail: { continuation.resume(throwing: $0) }))
            }
        } onCancel: {
            core.cancel(id)
        }
    }
}

/// The queue and threads of an ``Argon2Pool``.
///
/// Each job leaves the queue exactly once, under the lock (taken by a worker, cancelled, or
/// failed at shutdown), so each caller is resumed exactly once. The semaphore is signalled
/// once per enqueued job and once per thread at shutdown; a worker that wakes to an empty
/// queue (its job was cancelled) simply waits again.
final class Argon2PoolCore: Sendable {
    struct Job: Sendable {
        let id: UInt64
        /// Runs on a pool thread and resumes the caller.
        let run: @Sendable () -> Void
        /// Resumes the caller with an error instead (overloaded, shut down, cancelled).
        let fail: @Sendable (any Error) -> Void
    }

    private struct State {
        var queue: [Job] = []
        var running = 0
        var isShutDown = false
        var nextJobID: UInt64 = 0
        var rejections = 0
    }

    private enum Next {
        case job(Job)
        case wait
        case exit
    }

    let threads: Int
    let maxQueued: Int
    private let state = Mutex(State())
    private let wakeups = DispatchSemaphore(value: 0)

    init(threads: Int, maxQueued: Int) {
        self.threads = threads
        self.maxQueued = maxQueued
    }

    func startThreads() {
        for index in 0..<threads {
            let thread = Thread { [self] in
                // Named from inside: on Linux a name set before start does not reach the OS thread,
                // which would keep the name of the thread that created it.
                Thread.current.name = "argon2-\(index)"
                workerLoop()
            }
            thread.start()
        }
    }

    func makeJobID() -> UInt64 {
        state.withLock { state in
            state.nextJobID += 1
            return state.nextJobID
        }
    }

    func enqueue(_ job: Job) {
        let refusal: Argon2PoolError? = state.withLock { state in
            if state.isShutDown { return .shutDown }
            // Jobs that idle threads are about to pick up are not waiting: refuse only when every
            // thread is busy (or claimed) and `maxQueued` more jobs wait behind them.
            if state.running + state.queue.count >= threads + maxQueued {
                state.rejections += 1
                return .overloaded
            }
            state.queue.append(job)
            return nil
        }
        if let refusal {
            job.fail(refusal)
        } else {
            wakeups.signal()
        }
    }

    func cancel(_ id: UInt64) {
        let cancelled: Job? = state.withLock { state in
            guard let index = state.queue.firstIndex(where: { $0.id == id }) else { return nil }
            return state.queue.remove(at: index)
        }
        cancelled?.fail(CancellationError())
    }

    func shutdown() {
        let abandoned: [Job] = state.withLock { state in
            guard !state.isShutDown else { return [] }
            state.isShutDown = true
            defer { state.queue.removeAll() }
            return state.queue
        }
        for job in abandoned { job.fail(Argon2PoolError.shutDown) }
        for _ in 0..<threads { wakeups.signal() }
    }

    var statistics: Argon2PoolStatistics {
        state.withLock { Argon2PoolStatistics(running: $0.running, queued: $0.queue.count, rejections: $0.rejections) }
    }

    private func workerLoop() {
        while true {
            wakeups.wait()
            let next: Next = state.withLock { state in
                if !state.queue.isEmpty {
                    state.running += 1
                    return .job(state.queue.removeFirst())
                }
                return state.isShutDown ? .exit : .wait
            }
            switch next {
            case .job(let job):
                job.run()
                state.withLock { $0.running -= 1 }
            case .wait:
                continue
            case .exit:
                return
            }
        }
    }
}
