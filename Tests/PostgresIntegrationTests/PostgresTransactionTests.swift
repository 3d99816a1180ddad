import Foundation
import Postgres
import Testing

/// Counts attempts across threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    @discardableResult
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }

    var current: Int {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// Holds threads until `parties` have arrived, or the timeout passes.
final class ThreadBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0

    init(parties: Int) {
        self.parties = parties
    }

    func arriveAndWait(timeout: TimeInterval = 5) {
        condition.lock()
        arrived += 1
        condition.broadcast()
        let deadline = Date(timeIntervalSinceNow: timeout)
        while arrived < parties && Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        condition.unlock()
    }
}

struct Expected: Error {}

@Suite(.enabled(if: TestDatabase.isAvailable, TestDatabase.skipReason))
struct PostgresTransactionTests {
    func makePool(size: Int = 2, configuration: PostgresConfiguration? = nil) async throws -> PostgresPool {
        let resolved: PostgresConfiguration
        if let configuration { resolved = configuration } else { resolved = try await TestDatabase.freshSchema("tx") }
        let pool = PostgresPool(configuration: resolved, size: size)
        try await pool.query("CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)")
        try await pool.query("INSERT INTO accounts VALUES (1, 0), (2, 0)")
        return pool
    }

    func balances(_ pool: PostgresPool) async throws -> [Int] {
        try await pool.query("SELECT balance FROM accounts ORDER BY id").map { try $0.decode(0, as: Int.self) }
    }

    @Test("A transaction commits what its body did")
    func commits() async throws {
        try await withServer { () async throws in
            let pool = try await makePool()
            defer { Task { await pool.close() } }
            let result = try await pool.transaction { connection in
                try connection.query("UPDATE accounts SET balance = balance + \(5) WHERE id = \(1)")
                try connection.query("UPDATE accounts SET balance = balance - \(5) WHERE id = \(2)")
                return "done"
            }
            #expect(result == "done")
            #expect(try await balances(pool) == [5, -5])
        }
    }

    @Test("A transaction whose body throws is rolled back and the error rethrown")
    func rollsBackOnThrow() async throws {
        try await withServer { () async throws in
            let configuration = try await TestDatabase.freshSchema("tx")
            let pool = try await makePool(size: 1, configuration: configuration)
            defer { Task { await pool.close() } }
            await #expect(throws: Expected.self) {
                try await pool.transaction { connection in
                    try connection.query("UPDATE accounts SET balance = \(100) WHERE id = \(1)")
                    throw Expected()
                }
            }
            #expect(try await balances(pool) == [0, 0])
            // The single connection went back idle, not inside the aborted transaction:
            // what it writes next is committed and visible to another session.
            try await pool.query("UPDATE accounts SET balance = \(7) WHERE id = \(1)")
            let observer = PostgresPool(configuration: configuration, size: 1)
            defer { Task { await observer.close() } }
            #expect(try await balances(observer) == [7, 0])
        }
    }

    @Test("A swallowed statement error makes COMMIT throw instead of reporting success")
    func failedCommitThrows() async throws {
        try await withServer { () async throws in
            let pool = try await makePool(size: 1)
            defer { Task { await pool.close() } }
            await #expect(throws: PostgresError.self) {
                try await pool.transaction { connection in
                    try connection.query("UPDATE accounts SET balance = \(100) WHERE id = \(1)")
                    _ = try? connection.query("SELECT * FROM nowhere")
                }
            }
            #expect(try await balances(pool) == [0, 0])
        }
    }

    @Test("Work left open by withConnection is rolled back before the connection is reused")
    func openTransactionIsRolledBack() async throws {
        try await withServer { () async throws in
            let pool = try await makePool(size: 1)
            defer { Task { await pool.close() } }
            try await pool.withConnection { connection in
                try connection.query("BEGIN")
                try connection.query("UPDATE accounts SET balance = \(7) WHERE id = \(1)")
            }
            #expect(try await balances(pool) == [0, 0])
        }
    }

    @Test("A real serialization failure (40001) is retried until both transactions commit")
    func retriesSerializationFailure() async throws {
        try await withServer { () async throws in
            let pool = try await makePool(size: 2)
            defer { Task { await pool.close() } }
            let barrier = ThreadBarrier(parties: 2)
            let attempts = Counter()
            // Write skew: each reads the sum of both rows, then writes a different row.
            // SERIALIZABLE must abort one of them with 40001.
            @Sendable func body(_ id: Int) -> @Sendable (PostgresConnection) throws -> Int {
                { connection in
                    let attempt = attempts.increment()
                    let sum = try connection.query("SELECT sum(balance) FROM accounts")[0].decode(0, as: Int.self)
                    if attempt <= 2 { barrier.arriveAndWait() }
                    try connection.query("UPDATE accounts SET balance = \(sum + 1) WHERE id = \(id)")
                    return sum
                }
            }
            async let first = pool.transaction(isolation: .serializable, maxAttempts: 5, body(1))
            async let second = pool.transaction(isolation: .serializable, maxAttempts: 5, body(2))
            let sums = try await [first, second].sorted()
            #expect(sums == [0, 1], "the retried transaction saw the other's commit")
            #expect(attempts.current >= 3, "one transaction ran again")
            #expect(try await balances(pool).sorted() == [1, 2])
        }
    }

    @Test("With maxAttempts 1 the serialization failure reaches the caller")
    func serializationFailureSurfaces() async throws {
        try await withServer { () async throws in
            let pool = try await makePool(size: 2)
            defer { Task { await pool.close() } }
            let barrier = ThreadBarrier(parties: 2)
            @Sendable func body(_ id: Int) -> @Sendable (PostgresConnection) throws -> Void {
                { connection in
                    let sum = try connection.query("SELECT sum(balance) FROM accounts")[0].decode(0, as: Int.self)
                    barrier.arriveAndWait()
                    try connection.query("UPDATE accounts SET balance = \(sum + 1) WHERE id = \(id)")
                }
            }
            async let first: Result<Void, any Error> = Result { try await pool.transaction(isolation: .serializable, maxAttempts: 1, body(1)) }
            async let second: Result<Void, any Error> = Result { try await pool.transaction(isolation: .serializable, maxAttempts: 1, body(2)) }
            let results = await [first, second]
            let failures = results.compactMap { result -> PostgresError? in
                if case .failure(let error) = result { return error as? PostgresError }
                return nil
            }
            #expect(failures.count == 1)
            #expect(failures.first?.sqlState == .serializationFailure)
        }
    }
}

extension Result where Failure == any Error {
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
