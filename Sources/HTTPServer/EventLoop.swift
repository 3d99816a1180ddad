import Synchronization

/// One event-loop thread: an epoll instance, a listener, and the connections it accepted.
///
/// Everything except `deliver`, `requestShutdown` and `waitUntilStopped` runs on the loop
/// thread only. Those three cross threads: responses through `inbox` (lock-free) with an eventfd
/// wake-up only when the inbox was empty, a shutdown request through an atomic, and the end of
/// the loop through `stopState`. Nothing a request passes through takes a lock.
final class EventLoop: @unchecked Sendable {
    private struct StopState {
        var isStopped = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// epoll data values that are not connections.
    private static let listenerToken: UInt64 = 0
    private static let wakeToken: UInt64 = 1

    /// Connections accepted per listener wake-up before serving other events, so an accept
    /// flood cannot starve established connections.
    private static let acceptBatch = 64
    /// Pause before accepting again after running out of descriptors or memory; without it a
    /// level-triggered listener would spin the loop at 100% CPU.
    private static let acceptBackoffNanoseconds: UInt64 = 100_000_000
    /// Minimum time between timeout sweeps; bounds the cost of scanning all connections.
    private static let timerResolutionNanoseconds: UInt64 = 20_000_000
    /// Longest sleep in epoll_wait, so the loop notices nothing is due without a wake-up.
    private static let maximumWaitMilliseconds: Int32 = 1000
    /// Bytes read per read(2) call.
    static let readBufferBytes = 64 * 1024
    /// Events taken per epoll_wait.
    private static let maximumEvents = 512

    let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let log: (@Sendable (String) -> Void)?
    let counters: ServerCounters

    let epollFD: Int32
    let wakeFD: Int32
    private(set) var listenFD: Int32

    private let inbox = ResponseInbox()
    /// The grace period of a requested shutdown in nanoseconds; -1 while none is requested.
    private let requestedShutdownGrace = Atomic<Int64>(-1)
    /// The loop has exited: responses delivered now have no connection to go to.
    private let hasStopped = Atomic<Bool>(false)
    private let stopState = Mutex(StopState())

    var connections: [UInt64: Connection] = [:]
    private var nextConnectionID: UInt64 = 2
    let readBuffer: UnsafeMutableRawBufferPointer
    private let events: UnsafeMutableBufferPointer<System.EpollEvent>
    var dateCache = DateHeaderCache()
    var now: UInt64 = 0

    /// The earliest connection deadline, or later (`UInt64.max` = none); a sweep recomputes it.
    private var earliestDeadline = UInt64.max
    private var lastSweep: UInt64 = 0
    private var acceptResumesAt: UInt64?
    private(set) var isShuttingDown = false
    private var forceCloseAt = UInt64.max

    let headerReadNanoseconds: UInt64
    let bodyReadNanoseconds: UInt64
    let keepAliveIdleNanoseconds: UInt64
    let writeNanoseconds: UInt64
    let lingeringCloseNanoseconds: UInt64
    let tlsHandshakeNanoseconds: UInt64

    init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, log: (@Sendable (String) -> Void)?, counters: ServerCounters, listenFD: Int32) throws(HTTPServerError) {
        self.configuration = configuration
        self.responder = responder
        self.log = log
        self.counters = counters
        self.listenFD = listenFD
        let epollFD = try System.epollCreate()
        let wakeFD: Int32
        do {
            wakeFD = try System.eventfdCreate()
        } catch {
            System.close(epollFD)
            throw error
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        guard System.epollAdd(epollFD, fd: listenFD, events: System.epollIn, data: Self.listenerToken),
              System.epollAdd(epollFD, fd: wakeFD, events: System.epollIn, data: Self.wakeToken)
        else {
            System.close(epollFD)
            System.close(wakeFD)
            throw .system(call: "epoll_ctl", errno: 0, message: "epoll_ctl failed registering the listener")
        }
        readBuffer = .allocate(byteCount: Self.readBufferBytes, alignment: 16)
        events = .allocate(capacity: Self.maximumEvents)
        let timeouts = configuration.timeouts
        headerReadNanoseconds = Self.nanoseconds(timeouts.headerRead)
        bodyReadNanoseconds = Self.nanoseconds(timeouts.bodyRead)
        keepAliveIdleNanoseconds = Self.nanoseconds(timeouts.keepAliveIdle)
        writeNanoseconds = Self.nanoseconds(timeouts.write)
        lingeringCloseNanoseconds = Self.nanoseconds(timeouts.lingeringClose)
        tlsHandshakeNanoseconds = Self.nanoseconds(timeouts.tlsHandshake)
    }

    deinit {
        // Closed only now that no other thread holds the loop: a late `deliver` or
        // `requestShutdown` may still signal it, and must not write to a reused descriptor.
        System.close(wakeFD)
        readBuffer.deallocate()
        events.deallocate()
    }

    static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 { return 0 }
        if seconds > 1_000_000_000 { return 1_000_000_000 * 1_000_000_000 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    // MARK: Cross-thread entry points

    /// Hands a finished response to the loop (any thread).
    func deliver(connection: UInt64, sequence: UInt64, response: HTTPResponse) {
        guard !hasStopped.load(ordering: .acquiring) else { return }
        // One eventfd write per batch: only the response that finds the inbox empty wakes the loop,
        // which drains the eventfd before it empties the inbox, so no response is left unseen.
        if inbox.push(.init(connection: connection, sequence: sequence, response: response)) {
            System.eventfdSignal(wakeFD)
        }
    }

    /// Starts a graceful shutdown (any thread); idempotent.
    func requestShutdown(grace: Duration) {
        let nanoseconds = Int64(Self.nanoseconds(grace))
        let (exchanged, _) = requestedShutdownGrace.compareExchange(expected: -1, desired: nanoseconds, ordering: .sequentiallyConsistent)
        if exchanged {
            System.eventfdSignal(wakeFD)
        }
    }

    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = stopState.withLock { state in
                if state.isStopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    // MARK: The loop

    func run() {
        while true {
            now = System.monotonicNanoseconds()
            dateCache.refresh()
            let count = System.epollWait(epollFD, into: events, timeoutMilliseconds: waitTimeout())
            now = System.monotonicNanoseconds()
            dateCache.refresh()
            for index in 0..<count {
                let event = events[index]
                switch event.data {
                case Self.listenerToken:
                    acceptConnections()
                case Self.wakeToken:
                    processInbox()
                default:
                    if let connection = connections[event.data] {
                        handleEvent(event.events, on: connection)
                    }
                }
            }
            if let resume = acceptResumesAt, now >= resume {
                acceptResumesAt = nil
                if listenFD >= 0 {
                    System.epollAdd(epollFD, fd: listenFD, events: System.epollIn, data: Self.listenerToken)
                }
            }
            if now >= earliestDeadline && now >= lastSweep &+ Self.timerResolutionNanoseconds {
                sweepTimeouts()
            }
            if isShuttingDown {
                if now >= forceCloseAt {
                    for connection in Array(connections.values) { close(connection) }
                }
                if connections.isEmpty { break }
            }
        }
        finish()
    }

    private func waitTimeout() -> Int32 {
        var wakeAt = max(earliestDeadline, lastSweep &+ Self.timerResolutionNanoseconds)
        if earliestDeadline == UInt64.max { wakeAt = UInt64.max }
        if let resume = acceptResumesAt { wakeAt = min(wakeAt, resume) }
        if isShuttingDown { wakeAt = min(wakeAt, forceCloseAt) }
        if wakeAt == UInt64.max { return Self.maximumWaitMilliseconds }
        if wakeAt <= now { return 0 }
        let milliseconds = (wakeAt - now + 999_999) / 1_000_000
        return Int32(min(UInt64(Self.maximumWaitMilliseconds), milliseconds))
    }

    /// Releases the descriptors of a loop whose thread never started (start() failed part-way).
    func discardUnstarted() {
        finish()
    }

    private func finish() {
        hasStopped.store(true, ordering: .releasing)
        _ = inbox.takeAll()
        if listenFD >= 0 {
            System.close(listenFD)
            listenFD = -1
        }
        System.close(epollFD)
        let waiters = stopState.withLock { state in
            state.isStopped = true
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: Accepting

    private func acceptConnections() {
        guard listenFD >= 0 else { return }
        for _ in 0..<Self.acceptBatch {
            switch System.accept(listener: listenFD) {
            case .accepted(let fd, let address, let port, let source):
                let open = counters.connections.wrappingAdd(1, ordering: .relaxed).newValue
                guard open <= configuration.limits.maxConnections, !isShuttingDown else {
                    counters.connections.wrappingSubtract(1, ordering: .relaxed)
                    counters.connectionsRefusedOverCapacity.wrappingAdd(1, ordering: .relaxed)
                    rejectOverCapacity(fd)
                    continue
                }
                let perSourceLimit = configuration.limits.maxConnectionsPerSource
                let countedSource = perSourceLimit > 0 ? source : nil
                if let countedSource, !counters.admit(countedSource, limit: perSourceLimit) {
                    counters.connections.wrappingSubtract(1, ordering: .relaxed)
                    counters.connectionsRefusedPerSource.wrappingAdd(1, ordering: .relaxed)
                    rejectOverCapacity(fd)
                    continue
                }
                let id = nextConnectionID
                nextConnectionID += 1
                let transport: any ConnectionTransport
                if let tls = configuration.tls {
                    guard let made = TLSTransport(fd: fd, tls: tls, now: now) else {
                        counters.connections.wrappingSubtract(1, ordering: .relaxed)
                        if let countedSource { counters.release(countedSource) }
                        System.close(fd)
                        continue
                    }
                    transport = made
                } else {
                    transport = configuration.makeTransport?(fd) ?? PlainTransport(fd: fd)
                }
                let connection = Connection(
                    id: id, fd: fd, transport: transport,
                    remoteAddress: address, remotePort: port, source: countedSource,
                    limits: configuration.limits, now: now, registeredEvents: System.epollIn
                )
                if let tls = transport as? TLSTransport {
                    // The first request head is due within headerRead of the handshake's end.
                    tls.onEstablished = { [unowned self, unowned connection] in
                        connection.headStartedAt = self.now
                        connection.idleSince = self.now
                    }
                }
                guard System.epollAdd(epollFD, fd: fd, events: System.epollIn, data: id) else {
                    counters.connections.wrappingSubtract(1, ordering: .relaxed)
                    if let countedSource { counters.release(countedSource) }
                    System.close(fd)
                    continue
                }
                connections[id] = connection
                updateDeadline(connection)
            case .wouldBlock:
                return
            case .exhausted(let error):
                log?("accept paused: out of descriptors or memory (errno \(error))")
                System.epollRemove(epollFD, fd: listenFD)
                acceptResumesAt = now + Self.acceptBackoffNanoseconds
                return
            case .connectionFailed:
                continue
            }
        }
    }

    /// Answers 503 without reading the request, then closes: the cheapest honest refusal.
    private func rejectOverCapacity(_ fd: Int32) {
        // On a TLS listener plaintext would be garbage to the client, and a handshake is the very work
        // being refused: the connection is just closed.
        guard configuration.tls == nil else {
            System.close(fd)
            return
        }
        var response: [UInt8] = []
        HTTPResponseEncoder.encode(
            Self.overloadResponse(),
            context: .init(isHead: false, isHTTP10KeepAlive: false, isClosing: true),
            dateLine: dateCache.line,
            into: &response
        )
        response.withUnsafeBytes { _ = System.send(fd, $0) }
        // Read what already arrived, so closing does not reset the connection and discard the 503.
        _ = System.read(fd, into: readBuffer)
        System.shutdownWrite(fd)
        System.close(fd)
    }

    static func overloadResponse() -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Retry-After", value: "1")
        return .text(.serviceUnavailable, "Service Unavailable", headers: headers)
    }

    // MARK: Inbox

    private func processInbox() {
        System.eventfdDrain(wakeFD)
        for item in inbox.takeAll() {
            guard let connection = connections[item.connection], !connection.isClosed,
                  let first = connection.slots.first?.sequence,
                  item.sequence >= first
            else { continue }
            let index = Int(item.sequence - first)
            guard index < connection.slots.count else { continue }
            connection.slots[index].response = item.response
            if index == 0 {
                flush(connection)
                if connection.hasBufferedInput && !connection.isClosed {
                    processInput(connection)
                }
                readHeldInput(connection)
            }
        }
        if !isShuttingDown {
            let grace = requestedShutdownGrace.load(ordering: .sequentiallyConsistent)
            if grace >= 0 {
                beginShutdown(graceNanoseconds: UInt64(grace))
            }
        }
    }

    // MARK: Shutdown

    private func beginShutdown(graceNanoseconds: UInt64) {
        isShuttingDown = true
        forceCloseAt = now &+ graceNanoseconds
        if listenFD >= 0 {
            System.epollRemove(epollFD, fd: listenFD)
            System.close(listenFD)
            listenFD = -1
        }
        for connection in Array(connections.values) {
            connection.stopReading()
            switch connection.state {
            case .draining where !connection.slots.isEmpty:
                updateInterest(connection)
            case .draining, .closingAfterFlush:
                if connection.hasUnsentOutput {
                    connection.closeAfterFlush()
                } else {
                    close(connection)
                }
            case .reading, .lingering, .closed:
                close(connection)
            }
        }
    }

    // MARK: Timers

    /// Records a connection's next deadline and keeps `earliestDeadline` a lower bound.
    func updateDeadline(_ connection: Connection) {
        let deadline = computeDeadline(connection)
        connection.deadline = deadline
        if deadline != 0 && deadline < earliestDeadline {
            earliestDeadline = deadline
        }
    }

    private func computeDeadline(_ connection: Connection) -> UInt64 {
        if let tls = connection.transport as? TLSTransport, tls.isHandshaking, connection.state == .reading {
            return tls.handshakeStartedAt &+ tlsHandshakeNanoseconds
        }
        switch connection.state {
        case .closed:
            return 0
        case .lingering(let until):
            return until
        case .reading, .draining, .closingAfterFlush:
            break
        }
        if connection.hasUnsentOutput {
            return connection.lastWriteProgress &+ writeNanoseconds
        }
        // Read timeouts run only while the server wants the client's bytes; not while it holds
        // off reading because this connection's pipeline is full of its own unanswered requests.
        let isReading = connection.state == .reading
            && connection.slots.count < max(1, configuration.limits.maxPipelinedRequestsPerConnection)
        if isReading {
            if let started = connection.bodyStartedAt {
                return started &+ bodyReadNanoseconds
            }
            if let started = connection.headStartedAt {
                return started &+ headerReadNanoseconds
            }
        }
        if !connection.slots.isEmpty {
            // Waiting on a handler: the application bounds its own work.
            return 0
        }
        if isReading {
            return connection.idleSince &+ keepAliveIdleNanoseconds
        }
        return 0
    }

    private func sweepTimeouts() {
        lastSweep = now
        var next = UInt64.max
        var expired: [Connection] = []
        for connection in connections.values where connection.deadline != 0 {
            if connection.deadline <= now {
                expired.append(connection)
            } else if connection.deadline < next {
                next = connection.deadline
            }
        }
        earliestDeadline = next
        for connection in expired {
            (connection.transport as? TLSTransport)?.handshakeTimedOut()
            close(connection)
        }
    }

    // MARK: Closing

    func close(_ connection: Connection) {
        guard !connection.isClosed else { return }
        connection.state = .closed
        connections.removeValue(forKey: connection.id)
        connection.transport.close()
        counters.connections.wrappingSubtract(1, ordering: .relaxed)
        if let source = connection.source {
            counters.release(source)
        }
    }
}
