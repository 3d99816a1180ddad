import Foundation
import Postgres
import Testing

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresPoolTests {
    @Test("200 concurrent queries share a pool of 4 connections")
    func concurrency() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 4)
            defer { Task { await pool.close() } }
            let results = try await withThrowingTaskGroup(of: (Int, Int, Int32).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let rows = try await pool.query("SELECT \(index) * 2, pg_backend_pid()")
                        return (index, try rows[0].decode(0, as: Int.self), try rows[0].decode(1, as: Int32.self))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 200)
            #expect(results.allSatisfy { $0.1 == $0.0 * 2 })
            #expect(Set(results.map(\.2)).count <= 4)
            // A worker marks itself free just after it hands over its last result.
            try await until { pool.statistics.inUse == 0 }
            let statistics = pool.statistics
            #expect(statistics.size == 4)
            #expect(statistics.inUse == 0)
            #expect(statistics.waiting == 0)
            #expect(statistics.acquisitions == 200)
        }
    }

    @Test("Callers beyond maxWaiters are refused at once with poolExhausted")
    func exhaustion() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1, maxWaiters: 1, acquireTimeout: .seconds(10))
            defer { Task { await pool.close() } }
            let busy = Task { try await pool.query("SELECT pg_sleep(3)") }
            try await until { pool.statistics.inUse == 1 }
            let waiter = Task { try await pool.query("SELECT 1") }
            try await until { pool.statistics.waiting == 1 }
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.kind == .poolExhausted)
            // Refused at once: the busy query and the waiter are both still there.
            #expect(pool.statistics.inUse == 1 && pool.statistics.waiting == 1)
            _ = try await busy.value
            _ = try await waiter.value
            #expect(pool.statistics.rejections == 1)
        }
    }

    @Test("A caller waiting longer than acquireTimeout gets poolExhausted")
    func acquireTimeout() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1, acquireTimeout: .milliseconds(200))
            defer { Task { await pool.close() } }
            let busy = Task { try await pool.query("SELECT pg_sleep(3)") }
            try await until { pool.statistics.inUse == 1 }
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            let waited = ContinuousClock.now - start
            #expect(error?.kind == .poolExhausted)
            // It waited its acquireTimeout, and gave up while the busy query still held the connection.
            #expect(waited >= .milliseconds(150))
            #expect(pool.statistics.inUse == 1)
            _ = try await busy.value
            #expect(pool.statistics.timeouts == 1)
        }
    }

    @Test("ping answers true while the database is up")
    func ping() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            #expect(await pool.ping())
        }
    }

    @Test("A closed pool refuses work with .closed")
    func close() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 2)
            try await pool.query("SELECT 1")
            await pool.close()
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.kind == .closed)
        }
    }

    @Test("A connection whose session was killed is replaced on next use")
    func replacesKilledConnection() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            let admin = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close(); await admin.close() } }
            let pid = try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            try await admin.query("SELECT pg_terminate_backend(\(pid))")
            let (newPID, _) = try await eventually(attempts: 3) {
                try await pool.query("SELECT pg_backend_pid()")[0].decode(0, as: Int32.self)
            }
            #expect(newPID != pid)
        }
    }

    @Test("Cancelling a queued caller removes it from the queue")
    func cancellation() async throws {
        try await withServer { () async throws in
            let pool = PostgresPool(configuration: .environment(), size: 1)
            defer { Task { await pool.close() } }
            let busy = Task { try await pool.query("SELECT pg_sleep(3)") }
            try await until { pool.statistics.inUse == 1 }
            let waiter = Task { try await pool.query("SELECT 1") }
            try await until { pool.statistics.waiting == 1 }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(pool.statistics.waiting == 0)
            _ = try await busy.value
        }
    }
}

/// Waits until `condition` holds, failing after 10 s instead of waiting forever (a busy query can
/// end before a loaded machine lets the test look; the test then fails rather than hangs).
func until(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("the condition did not hold within 10 s")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
