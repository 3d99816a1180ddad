#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import PasswordHashing

@Suite struct Argon2PoolTests {
    let fast = Argon2Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)

    /// Occupies every thread of `pool` until the returned closure is called.
    func occupy(_ pool: Argon2Pool) async -> (release: @Sendable () -> Void, finished: Task<Void, Never>) {
        let gate = DispatchSemaphore(value: 0)
        let (started, continuation) = AsyncStream<Void>.makeStream()
        let threads = pool.threads
        let finished = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<threads {
                    group.addTask { _ = try? await pool.run { continuation.yield(); gate.wait() } }
                }
            }
        }
        var iterator = started.makeAsyncIterator()
        for _ in 0..<threads { _ = await iterator.next() }
        return ({ for _ in 0..<threads { gate.signal() } }, finished)
    }

    /// Waits until `count` jobs are queued behind the busy threads.
    func waitForQueued(_ pool: Argon2Pool, _ count: Int) async {
        while pool.statistics.queued < count { await Task.yield() }
    }

    @Test("Hashes and verifications run on the pool and give Argon2id's answers")
    func roundTrip() async throws {
        let pool = Argon2Pool(threads: 2)
        let encoded = try await pool.hash(password: Array("pw".utf8), parameters: fast)
        #expect(try await pool.verify(password: Array("pw".utf8), encoded: encoded))
        #expect(try await !pool.verify(password: Array("pW".utf8), encoded: encoded))
        await #expect(throws: Argon2Error.self) { try await pool.verify(password: [1], encoded: "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA") }
        await #expect(throws: Argon2Error.self) { try await pool.hash(password: [1], parameters: Argon2Parameters(memoryKiB: 4)) }
    }

    @Test("Work runs on the pool's own threads, not Swift's cooperative pool")
    func ownThreads() async throws {
        let pool = Argon2Pool(threads: 1)
        // A one-thread pool runs every job on the one OS thread it started, never on the caller's.
        let caller = pthread_self()
        let first = try await pool.run { pthread_self() }
        let second = try await pool.run { pthread_self() }
        #expect(first == second)
        #expect(first != caller)
    }

    @Test("When every thread is busy and maxQueued jobs wait, the next job fails at once with overloaded")
    func overload() async throws {
        let pool = Argon2Pool(threads: 1, maxQueued: 1)
        let occupation = await occupy(pool)
        let queued = Task { try await pool.hash(password: [1], parameters: fast) }
        await waitForQueued(pool, 1)
        await #expect(throws: Argon2PoolError.overloaded) { try await pool.verify(password: [1], encoded: "unused") }
        #expect(pool.statistics.rejections == 1)
        occupation.release()
        await occupation.finished.value
        #expect(try await queued.value.hasPrefix("$argon2id$"))
        #expect(pool.statistics == Argon2PoolStatistics(running: 0, queued: 0, rejections: 1))
    }

    @Test("Shutdown fails queued jobs and refuses new ones; the running job completes")
    func shutdown() async throws {
        let pool = Argon2Pool(threads: 1, maxQueued: 4)
        let occupation = await occupy(pool)
        let queued = Task { try await pool.hash(password: [1], parameters: fast) }
        await waitForQueued(pool, 1)
        pool.shutdown()
        await #expect(throws: Argon2PoolError.shutDown) { try await queued.value }
        await #expect(throws: Argon2PoolError.shutDown) { try await pool.hash(password: [1], parameters: fast) }
        occupation.release()
        await occupation.finished.value
    }

    @Test("A queued job whose task is cancelled leaves the queue")
    func cancellation() async throws {
        let pool = Argon2Pool(threads: 1, maxQueued: 4)
        let occupation = await occupy(pool)
        let queued = Task { try await pool.hash(password: [1], parameters: fast) }
        await waitForQueued(pool, 1)
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        #expect(pool.statistics.queued == 0)
        occupation.release()
        await occupation.finished.value
        // The thread is free again.
        #expect(try await pool.verify(password: [1], encoded: try await pool.hash(password: [1], parameters: fast)))
    }
}
