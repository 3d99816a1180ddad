internal import CLibPQ
import Foundation

/// One libpq connection (`PGconn`), used by one thread at a time.
///
/// Every call blocks the calling thread until the server answers, so connections live on
/// threads owned by `PostgresPool` or `PostgresListener`, never on Swift's cooperative pool.
/// The `PGconn` is owned by this object and closed (`PQfinish`) in `deinit`.
public final class PostgresConnection {
    private let handle: OpaquePointer
    /// Set when a call found the session unusable; the pool then replaces the connection.
    private var isBroken = false
    /// The bounds this connection was opened with.
    private let bounds: Bounds
    /// Set inside `withoutTimeouts(_:)`.
    private var areTimeoutsSuspended = false
    /// The client-side deadline inside `withTimeouts(statement:lock:_:)`.
    private var responseTimeoutOverride: Duration?

    /// The bounds of every wait, taken from the configuration at connect.
    struct Bounds {
        var responseTimeout: Duration
        var cancelGrace: Duration
        /// Appended to `BEGIN` (timeouts set per transaction behind a pooler), else empty.
        var transactionPrelude: String
        /// `SET LOCAL` statements that put the configured timeouts back inside a transaction.
        var restoreTimeoutsSQL: String
        var isBehindTransactionPooler: Bool
    }

    private init(handle: OpaquePointer, bounds: Bounds) {
        self.handle = handle
        self.bounds = bounds
        // libpq prints notices (and an asynchronous FATAL at server shutdown) to stderr by
        // default; the server log has them, so the client stays quiet.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    deinit {
        PQfinish(handle)
    }

    /// Opens a connection, waiting at most `configuration.connectTimeoutSeconds` for each
    /// host of the URL (libpq tries them in order).
    ///
    /// - Throws: `PostgresError` of kind `.connection` with libpq's message.
    public static func connect(_ configuration: PostgresConfiguration) throws -> PostgresConnection {
        if configuration.isBehindTransactionPooler && configuration.searchPath != nil {
            throw PostgresError(
                kind: .connection,
                message: "search_path cannot be set per connection through a transaction-mode pooler; set it on the role")
        }
        let parameters = configuration.connectionParameters
        for (keyword, value) in parameters where value.utf8.contains(0) {
            throw PostgresError(kind: .connection, message: "connection parameter \(keyword) contains a NUL byte")
        }
        let pointer = try CStringArray.with(parameters.map(\.0)) { keywords in
            try CStringArray.with(parameters.map(\.1)) { values in
                PQconnectdbParams(keywords, values, 1)
            }
        }
        guard let pointer else {
            throw PostgresError(kind: .connection, message: "libpq could not allocate a connection")
        }
        guard PQstatus(pointer) == CONNECTION_OK else {
            let message = Self.errorMessage(of: pointer)
            PQfinish(pointer)
            throw PostgresError(kind: .connection, message: message)
        }
        // Text timestamps are decoded in ISO style. Without startup options (behind a pooler)
        // the session has the server's, role's or database's DateStyle: refuse any other.
        if let style = PQparameterStatus(pointer, "DateStyle").map({ String(cString: $0) }), !style.uppercased().hasPrefix("ISO") {
            PQfinish(pointer)
            throw PostgresError(
                kind: .connection,
                message: "the session's DateStyle is \(style), not ISO; set it on the role or database (ALTER ROLE … SET datestyle = 'ISO, MDY')")
        }
        // Non-blocking: every wait for the server is a poll with a deadline (see `awaitResult`).
        guard PQsetnonblocking(pointer, 1) == 0 else {
            let message = Self.errorMessage(of: pointer)
            PQfinish(pointer)
            throw PostgresError(kind: .connection, message: "cannot make the connection non-blocking: \(message)")
        }
        let bounds = Bounds(
            responseTimeout: configuration.effectiveResponseTimeout, cancelGrace: configuration.cancelGrace,
            transactionPrelude: configuration.transactionPrelude,
            restoreTimeoutsSQL: configuration.restoreTimeoutsSQL,
            isBehindTransactionPooler: configuration.isBehindTransactionPooler)
        return PostgresConnection(handle: pointer, bounds: bounds)
    }

    /// Whether the session can still be used: libpq reports it open and no call found it broken.
    public var isHealthy: Bool {
        !isBroken && PQstatus(handle) == CONNECTION_OK
    }

    /// The server's process ID for this session (`pg_backend_pid()`).
    public var backendProcessID: Int32 {
        PQbackendPID(handle)
    }

    /// The server version as an integer, for example 150004 for 15.4.
    public var serverVersion: Int {
        Int(PQserverVersion(handle))
    }

    /// Runs one statement with its parameters (`PQsendQueryParams`) and copies the result out.
    ///
    /// - Throws: `PostgresError`: `.server` with the SQLSTATE when the server refused it,
    ///   `.connection` when the session broke, `.timedOut` when a timeout ended it (the
    ///   server's statement or lock timeout, or the client-side response deadline).
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> PostgresRows {
        try ensureUsable()
        // The protocol counts parameters in 16 bits.
        guard query.binds.count <= Int(UInt16.max) else {
            throw PostgresError(kind: .protocolViolation, message: "a statement can have at most 65535 parameters, not \(query.binds.count)")
        }
        guard !query.sql.utf8.contains(0) else {
            throw PostgresError(kind: .protocolViolation, message: "the SQL text contains a NUL byte")
        }
        var buffer: [UInt8] = []
        var offsets: [Int?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var types: [UInt32] = []
        for (index, bind) in query.binds.enumerated() {
            types.append(bind.dataType.rawValue)
            formats.append(bind.format.rawValue)
            guard let bytes = bind.bytes else {
                offsets.append(nil)
                lengths.append(0)
                continue
            }
            guard let length = Int32(exactly: bytes.count) else {
                throw PostgresError(kind: .protocolViolation, message: "parameter $\(index + 1) is larger than 2 GiB")
            }
            if bind.format == .text && bytes.contains(0) {
                throw PostgresError(
                    kind: .protocolViolation,
                    message: "parameter $\(index + 1) is text containing a NUL byte, which PostgreSQL text cannot hold")
            }
            offsets.append(buffer.count)
            buffer += bytes
            // Text-format values are read by libpq as NUL-terminated strings.
            if bind.format == .text { buffer.append(0) }
            lengths.append(length)
        }
        // Never empty, so the base address below exists even when every value is empty.
        buffer.append(0)
        let count = Int32(query.binds.count)
        // libpq copies the statement and its values into its output buffer before returning.
        let sent: Int32 = buffer.withUnsafeBufferPointer { raw in
            guard let base = raw.baseAddress else { return 0 }
            let characters = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
            let values: [UnsafePointer<CChar>?] = offsets.map { offset in offset.map { characters + $0 } }
            return values.withUnsafeBufferPointer { values in
                lengths.withUnsafeBufferPointer { lengths in
                    formats.withUnsafeBufferPointer { formats in
                        types.withUnsafeBufferPointer { types in
                            PQsendQueryParams(
                                handle, query.sql, count, types.baseAddress, values.baseAddress,
                                lengths.baseAddress, formats.baseAddress, query.resultFormat.rawValue)
                        }
                    }
                }
            }
        }
        guard sent == 1 else { throw sendFailure() }
        return try awaitResult()
    }

    /// Runs SQL text that may hold several statements (`PQsendQuery`), as migrations do. Takes no
    /// parameters: never put values in `unsafeSQL`.
    public func executeScript(unsafeSQL sql: String) throws {
        try ensureUsable()
        guard !sql.utf8.contains(0) else {
            throw PostgresError(kind: .protocolViolation, message: "the SQL text contains a NUL byte")
        }
        guard PQsendQuery(handle, sql) == 1 else { throw sendFailure() }
        _ = try awaitResult()
    }

    /// Runs `body` without the statement and lock timeouts and without the client-side
    /// deadline, for work that may rightly wait long: migrations (DDL, and waiting for another
    /// instance's migrations). The session's timeouts are restored afterwards; if that fails
    /// the connection is dropped.
    public func withoutTimeouts<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard !areTimeoutsSuspended else { return try body(self) }
        // Behind a transaction-mode pooler nothing is set on the session: each transaction sets
        // its own (see `transaction`).
        if !bounds.isBehindTransactionPooler {
            try executeScript(unsafeSQL: "SET statement_timeout = 0; SET lock_timeout = 0")
        }
        areTimeoutsSuspended = true
        let outcome = Result { try body(self) }
        areTimeoutsSuspended = false
        if !bounds.isBehindTransactionPooler && isHealthy {
            do {
                // RESET returns to the session's start values, those of the startup options.
                try executeScript(unsafeSQL: "RESET statement_timeout; RESET lock_timeout")
            } catch {
                isBroken = true
            }
        }
        return try outcome.get()
    }

    /// Runs `body`, inside the current transaction, with other bounds than the session's: for a
    /// wait known to be long and bounded by other means, such as an advisory lock held while
    /// another instance generates signing keys. The server-side timeouts are set with
    /// `SET LOCAL` and put back afterwards; the client-side deadline becomes `statement` plus
    /// two seconds meanwhile.
    ///
    /// - Throws: `PostgresError` of kind `.protocolViolation` outside a transaction.
    @discardableResult
    public func withTimeouts<T>(statement: Duration, lock: Duration, _ body: (PostgresConnection) throws -> T) throws -> T {
        guard transactionStatus == .inTransaction else {
            throw PostgresError(kind: .protocolViolation, message: "withTimeouts needs an open transaction (it uses SET LOCAL)")
        }
        guard !areTimeoutsSuspended else { return try body(self) }
        try executeScript(unsafeSQL: "SET LOCAL statement_timeout = \(PostgresConfiguration.milliseconds(statement)); "
            + "SET LOCAL lock_timeout = \(PostgresConfiguration.milliseconds(lock))")
        let saved = responseTimeoutOverride
        responseTimeoutOverride = statement + .seconds(2)
        let outcome = Result { try body(self) }
        responseTimeoutOverride = saved
        // The rest of the transaction has the usual bounds again (a failed one only rolls back).
        if transactionStatus == .inTransaction {
            try executeScript(unsafeSQL: bounds.restoreTimeoutsSQL)
        }
        return try outcome.get()
    }

    /// Runs `body` between `BEGIN ISOLATION LEVEL …` and `COMMIT`, rolling back if it throws.
    /// No retries (see `PostgresPool.transaction` for those).
    ///
    /// A COMMIT the server turns into a rollback (because a statement inside failed and the
    /// error was swallowed) throws rather than reporting success.
    public func transaction<T>(
        isolation: PostgresIsolation = .readCommitted, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        guard transactionStatus == .idle else {
            throw PostgresError(kind: .protocolViolation, message: "a transaction is already open on this connection")
        }
        // Behind a transaction-mode pooler the timeouts are set here, for this transaction only.
        let prelude = areTimeoutsSuspended
            ? (bounds.isBehindTransactionPooler ? "; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0" : "")
            : bounds.transactionPrelude
        try executeScript(unsafeSQL: isolation.beginSQL + prelude)
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackQuietly()
            throw error
        }
        switch transactionStatus {
        case .inTransaction:
            break
        case .inError:
            rollbackQuietly()
            throw PostgresError(
                kind: .server,
                message: "a statement in the transaction failed and its error was not propagated; the transaction was rolled back")
        default:
            throw PostgresError(
                kind: .protocolViolation, message: "the transaction body ended the transaction itself; nothing was committed by the caller")
        }
        let commit = try query("COMMIT")
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(kind: .server, message: "COMMIT answered \"\(commit.commandTag)\": the transaction was rolled back")
        }
        return value
    }

    // MARK: - Internal

    enum TransactionStatus {
        case idle, active, inTransaction, inError, unknown
    }

    var transactionStatus: TransactionStatus {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_ACTIVE: return .active
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .inError
        default: return .unknown
        }
    }

    func rollbackQuietly() {
        guard isHealthy, transactionStatus == .inTransaction || transactionStatus == .inError else { return }
        do {
            try executeScript(unsafeSQL: "ROLLBACK")
        } catch {
            isBroken = true
        }
    }

    /// Reads whatever the server sent while the connection sat idle, without blocking, and
    /// reports whether the session survived. A server restart closes idle sessions; this
    /// notices it before a query is sent, so the pool can reconnect first.
    func checkAlive() -> Bool {
        guard isHealthy else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else {
            isBroken = true
            return false
        }
        // The server's goodbye (a FATAL message) and its end-of-stream may arrive
        // together: one PQconsumeInput reads the message and reports success, so keep
        // reading while the socket is readable, and treat a hang-up as fatal.
        for _ in 0..<8 {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN) | Self.peerClosedEvent, revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if descriptor.revents & (Int16(POLLHUP) | Int16(POLLERR) | Self.peerClosedEvent) != 0 {
                isBroken = true
                return false
            }
            if PQconsumeInput(handle) == 0 {
                isBroken = true
                return false
            }
            discardNotifications()
        }
        return isHealthy
    }

    #if os(Linux)
    /// POLLRDHUP: the peer shut down its side of the connection.
    private static let peerClosedEvent: Int16 = 0x2000  // POLLRDHUP, hidden by Glibc behind _GNU_SOURCE
    #else
    private static let peerClosedEvent: Int16 = 0
    #endif

    /// Quotes `identifier` for use as an SQL identifier (`PQescapeIdentifier`).
    func escapeIdentifier(_ identifier: String) throws -> String {
        guard !identifier.utf8.contains(0) else {
            throw PostgresError(kind: .protocolViolation, message: "an identifier cannot contain a NUL byte")
        }
        guard let escaped = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw PostgresError(kind: .protocolViolation, message: Self.errorMessage(of: handle))
        }
        let quoted = String(cString: escaped)
        PQfreemem(escaped)
        return quoted
    }

    /// Waits for notifications until `shouldStop` returns true or the connection breaks,
    /// passing each to `deliver`. Polls in slices of `pollMilliseconds` so a stop request is
    /// noticed promptly, and runs `SELECT 1` after `keepaliveSeconds` of silence so a dead
    /// peer is noticed even when no FIN arrives.
    func pumpNotifications(
        pollMilliseconds: Int32, keepaliveSeconds: Double, shouldStop: () -> Bool,
        deliver: (_ channel: String, _ payload: String) -> Void
    ) {
        var lastActivity = Date()
        while !shouldStop() {
            let socket = PQsocket(handle)
            guard socket >= 0, isHealthy else { break }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, pollMilliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                isBroken = true
                break
            }
            if ready > 0 {
                if PQconsumeInput(handle) == 0 {
                    isBroken = true
                    break
                }
                lastActivity = Date()
            }
            drainNotifications(deliver)
            if Date().timeIntervalSince(lastActivity) > keepaliveSeconds {
                do {
                    try query("SELECT 1")
                } catch {
                    isBroken = true
                    break
                }
                lastActivity = Date()
                drainNotifications(deliver)
            }
        }
    }

    // MARK: - Private

    private func drainNotifications(_ deliver: (String, String) -> Void) {
        while let notification = PQnotifies(handle) {
            let channel = String(cString: notification.pointee.relname)
            let payload = String(cString: notification.pointee.extra)
            PQfreemem(notification)
            deliver(channel, payload)
        }
    }

    private func discardNotifications() {
        while let notification = PQnotifies(handle) {
            PQfreemem(notification)
        }
    }

    private func ensureUsable() throws {
        guard isHealthy else {
            isBroken = true
            throw PostgresError(kind: .connection, message: "the connection is closed or broken")
        }
    }

    /// The error for a statement libpq could not queue or send.
    private func sendFailure() -> PostgresError {
        let message = Self.errorMessage(of: handle)
        isBroken = true
        return PostgresError(kind: .connection, message: message.isEmpty ? "libpq could not send the statement" : message)
    }

    /// Sends what libpq still holds and collects every result of the statement (or script):
    /// the rows of the last one, or the first error. Each wait is a `poll` bounded by the
    /// response deadline; when it passes, the statement is cancelled, and if the server does
    /// not answer that within the cancel grace either, the connection is dropped.
    private func awaitResult() throws -> PostgresRows {
        let timeout = responseTimeoutOverride ?? bounds.responseTimeout
        var deadline: ContinuousClock.Instant? = areTimeoutsSuspended ? nil : .now + timeout
        var isCancelled = false
        var rows: PostgresRows?
        var firstError: (any Error)?
        while true {
            try awaitReadable(deadline: &deadline, isCancelled: &isCancelled)
            guard let pointer = PQgetResult(handle) else { break }
            do {
                rows = try consume(pointer)
            } catch {
                if firstError == nil { firstError = error }
            }
            // A broken session (COPY, lost server) yields no further results worth reading.
            if isBroken { break }
        }
        if var error = firstError as? PostgresError, isCancelled, error.sqlState == .queryCanceled {
            error.message = "no answer within \(Self.describe(timeout)): the statement was cancelled (\(error.message))"
            throw error
        }
        if let firstError { throw firstError }
        return rows ?? PostgresRows(storage: .empty, affectedRows: 0, commandTag: "")
    }

    /// Flushes libpq's output and waits until a result can be taken without blocking.
    private func awaitReadable(deadline: inout ContinuousClock.Instant?, isCancelled: inout Bool) throws {
        while true {
            let flushed = PQflush(handle)
            if flushed < 0 {
                isBroken = true
                throw PostgresError(kind: .connection, message: Self.errorMessage(of: handle))
            }
            if flushed == 0 && PQisBusy(handle) == 0 { return }
            let socket = PQsocket(handle)
            guard socket >= 0 else {
                isBroken = true
                throw PostgresError(kind: .connection, message: "the connection has no socket")
            }
            var wait: Int32 = -1
            if let current = deadline {
                let now = ContinuousClock.now
                if now >= current {
                    guard isCancelled else {
                        requestCancel()
                        isCancelled = true
                        deadline = now + bounds.cancelGrace
                        continue
                    }
                    isBroken = true
                    throw PostgresError(
                        kind: .timedOut,
                        message: "no answer within \(Self.describe(responseTimeoutOverride ?? bounds.responseTimeout)), nor to the cancel request within "
                            + "\(Self.describe(bounds.cancelGrace)): the connection is dropped")
                }
                wait = Self.pollMilliseconds(until: current, from: now)
            }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN) | (flushed == 1 ? Int16(POLLOUT) : 0), revents: 0)
            let ready = poll(&descriptor, 1, wait)
            if ready < 0 {
                if errno == EINTR { continue }
                isBroken = true
                throw PostgresError(kind: .connection, message: "poll failed: errno \(errno)")
            }
            if ready > 0 && descriptor.revents & (Int16(POLLIN) | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                if PQconsumeInput(handle) == 0 {
                    isBroken = true
                    throw PostgresError(kind: .connection, message: Self.errorMessage(of: handle))
                }
            }
        }
    }

    /// Asks the server to cancel the running statement, on a thread of its own: `PQcancel`
    /// opens a new connection to the server and blocks until it is answered, and the caller's
    /// wait must stay bounded. The statement ends with 57014, which `awaitResult` reads.
    private func requestCancel() {
        guard let cancel = PQgetCancel(handle) else { return }
        let request = CancelRequest(cancel)
        let thread = Thread {
            request.send()
        }
        thread.name = "postgres-cancel"
        thread.start()
    }

    /// Milliseconds for `poll` from `now` until `deadline`, rounded up and at least 1.
    private static func pollMilliseconds(until deadline: ContinuousClock.Instant, from now: ContinuousClock.Instant) -> Int32 {
        let (seconds, attoseconds) = (deadline - now).components
        let milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(1, milliseconds))
    }

    private static func describe(_ duration: Duration) -> String {
        duration.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow))
    }

    /// Turns a `PGresult` into rows or an error, freeing it either way.
    private func consume(_ pointer: OpaquePointer) throws -> PostgresRows {
        let result = ResultHandle(pointer)
        switch PQresultStatus(pointer) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            return result.copyRows()
        case PGRES_EMPTY_QUERY:
            return PostgresRows(storage: .empty, affectedRows: 0, commandTag: "")
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw makeError(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The session is now in COPY mode, which this client does not speak.
            isBroken = true
            throw PostgresError(kind: .protocolViolation, message: "COPY is not supported by this client")
        default:
            isBroken = true
            throw PostgresError(kind: .protocolViolation, message: "unexpected result status \(PQresultStatus(pointer).rawValue)")
        }
    }

    private func makeError(_ result: ResultHandle) -> PostgresError {
        let sqlState = result.errorField("C").map(SQLState.init(rawValue:))
        let connectionLost = PQstatus(handle) != CONNECTION_OK
        var message = result.errorField("M") ?? result.errorMessage
        if message.isEmpty { message = Self.errorMessage(of: handle) }
        let kind: PostgresError.Kind
        if sqlState == nil && connectionLost {
            kind = .connection
        } else if sqlState?.isTimeout == true {
            kind = .timedOut
        } else {
            kind = .server
        }
        let error = PostgresError(
            kind: kind,
            sqlState: sqlState,
            message: message,
            detail: result.errorField("D"),
            hint: result.errorField("H"),
            constraint: result.errorField("n"))
        if connectionLost || error.isConnectionFailure {
            isBroken = true
        }
        return error
    }

    private static func errorMessage(of handle: OpaquePointer) -> String {
        guard let message = PQerrorMessage(handle) else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A cancel request for one running statement (`PGcancel`), freed (`PQfreeCancel`) in `deinit`.
/// `PQcancel` is thread-safe and independent of the connection, which may be closed meanwhile.
private final class CancelRequest: @unchecked Sendable {
    private let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQfreeCancel(pointer)
    }

    func send() {
        var message = [CChar](repeating: 0, count: 256)
        _ = PQcancel(pointer, &message, Int32(message.count))
    }
}

/// Owns one `PGresult` and frees it (`PQclear`) in `deinit`.
private final class ResultHandle {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        PQclear(pointer)
    }

    var errorMessage: String {
        guard let message = PQresultErrorMessage(pointer) else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func errorField(_ code: Unicode.Scalar) -> String? {
        guard let value = PQresultErrorField(pointer, Int32(code.value)) else { return nil }
        return String(cString: value)
    }

    /// Copies every value out, so nothing points into the `PGresult` after it is cleared.
    func copyRows() -> PostgresRows {
        let rowCount = Int(PQntuples(pointer))
        let columnCount = Int(PQnfields(pointer))
        var columns: [String] = []
        var types: [PostgresDataType] = []
        var formats: [PostgresFormat] = []
        for column in 0..<columnCount {
            let index = Int32(column)
            columns.append(PQfname(pointer, index).map { String(cString: $0) } ?? "")
            types.append(PostgresDataType(rawValue: PQftype(pointer, index)))
            formats.append(PQfformat(pointer, index) == 1 ? .binary : .text)
        }
        var values: [[UInt8]?] = []
        values.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(pointer, row, column) == 1 {
                    values.append(nil)
                    continue
                }
                let length = Int(PQgetlength(pointer, row, column))
                guard let start = PQgetvalue(pointer, row, column), length > 0 else {
                    values.append([])
                    continue
                }
                values.append(Array(UnsafeRawBufferPointer(start: start, count: length)))
            }
        }
        let storage = PostgresResultStorage(
            columns: columns, types: types, formats: formats, rowCount: rowCount, values: values)
        let tag = PQcmdStatus(pointer).map { String(cString: $0) } ?? ""
        let affected = PQcmdTuples(pointer).flatMap { Int(String(cString: $0)) } ?? 0
        return PostgresRows(storage: storage, affectedRows: affected, commandTag: tag)
    }
}

/// A NUL-terminated array of C strings that lives only for the duration of `body`.
enum CStringArray {
    static func with<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) throws -> R) throws -> R {
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        for string in strings {
            guard let copy = strdup(string) else {
                throw PostgresError(kind: .connection, message: "out of memory copying connection parameters")
            }
            owned.append(copy)
        }
        var pointers: [UnsafePointer<CChar>?] = owned.map { UnsafePointer($0) }
        pointers.append(nil)
        return try pointers.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                throw PostgresError(kind: .connection, message: "empty connection parameter array")
            }
            return try body(base)
        }
    }
}

/// Transaction isolation levels (PostgreSQL docs, "Transaction Isolation").
public enum PostgresIsolation: Sendable, Hashable {
    case readCommitted, repeatableRead, serializable

    var beginSQL: String {
        switch self {
        case .readCommitted: return "BEGIN ISOLATION LEVEL READ COMMITTED"
        case .repeatableRead: return "BEGIN ISOLATION LEVEL REPEATABLE READ"
        case .serializable: return "BEGIN ISOLATION LEVEL SERIALIZABLE"
        }
    }
}
