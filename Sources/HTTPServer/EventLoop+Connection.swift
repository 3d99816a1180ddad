/// Reading, parsing, dispatching and writing for one connection, on the loop thread.
extension EventLoop {
    func handleEvent(_ events: UInt32, on connection: Connection) {
        let isReadable = events & System.epollIn != 0
        let isWritable = events & System.epollOut != 0
        if connection.readWaitsFor == .readable ? isReadable : isWritable {
            readAvailable(connection)
        } else if events & (System.epollError | System.epollHangUp) != 0 {
            close(connection)
            return
        }
        if !connection.isClosed && (connection.writeWaitsFor == .writable ? isWritable : isReadable) {
            flush(connection)
        }
        readHeldInput(connection)
    }

    /// Reads input the transport already holds, once the connection takes input again: the
    /// socket will not signal for it (see `ConnectionTransport.hasBufferedInput`).
    func readHeldInput(_ connection: Connection) {
        if !connection.isClosed && connection.transport.hasBufferedInput && wantsInput(connection) {
            readAvailable(connection)
        }
    }

    private func readAvailable(_ connection: Connection) {
        // A transport may hold bytes it already took from the socket (TLS records read ahead),
        // for which the socket will not signal again: read until it holds none.
        repeat {
            readOnce(connection)
        } while !connection.isClosed && connection.transport.hasBufferedInput && wantsInput(connection)
    }

    private func readOnce(_ connection: Connection) {
        let result = connection.transport.read(into: readBuffer)
        if case .wouldBlock(let readiness) = result {
            connection.readWaitsFor = readiness
        } else {
            connection.readWaitsFor = .readable
        }
        switch result {
        case .transferred(let count):
            if case .lingering = connection.state {
                // Discarding input so the client can read the last response; see `lingeringClose`.
                return
            }
            if connection.headStartedAt == nil && connection.bodyStartedAt == nil {
                connection.headStartedAt = now
            }
            connection.inbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: readBuffer[0..<count]))
            processInput(connection)
        case .endOfFile:
            switch connection.state {
            case .lingering, .closed:
                close(connection)
                return
            case .reading, .draining, .closingAfterFlush:
                break
            }
            if connection.slots.isEmpty && !connection.hasUnsentOutput {
                close(connection)
                return
            }
            // A client may half-close after sending its requests; answer them, then close.
            if connection.slots.isEmpty {
                connection.state = .closingAfterFlush(isPeerClosed: true)
            } else {
                connection.state = .draining(isPeerClosed: true)
                // The last answer closes the connection (and says so); nothing can follow it.
                connection.slots[connection.slots.count - 1].context.isClosing = true
            }
            updateInterest(connection)
            updateDeadline(connection)
        case .wouldBlock:
            updateInterest(connection)
        case .failed:
            close(connection)
        }
    }

    /// Parses as many buffered requests as the pipelining limit allows and dispatches them.
    func processInput(_ connection: Connection) {
        let depth = max(1, configuration.limits.maxPipelinedRequestsPerConnection)
        while connection.state == .reading && connection.hasBufferedInput {
            if connection.slots.count >= depth {
                // Answers made on this thread leave the pipeline for the output buffer (sent by the
                // flush below), making room; a pending answer at the head keeps it full.
                appendAnsweredSlots(connection)
                guard connection.state == .reading, connection.slots.count < depth else { break }
            }
            let result = connection.inbound.withUnsafeBytes { bytes in
                connection.parser.parse(UnsafeRawBufferPointer(rebasing: bytes[connection.inboundStart...]))
            }
            switch result {
            case .complete(let request, let consumed):
                connection.inboundStart += consumed
                connection.bodyStartedAt = nil
                connection.sentContinue = false
                connection.headStartedAt = connection.hasBufferedInput ? now : nil
                dispatch(request, on: connection)
            case .needMoreData(let consumed):
                connection.inboundStart += consumed
                if let head = connection.parser.headAwaitingBody {
                    if connection.bodyStartedAt == nil {
                        connection.bodyStartedAt = now
                    }
                    if head.expectsContinue && !connection.sentContinue {
                        // RFC 9110 §10.1.1: the client waits for this before sending the body.
                        connection.sentContinue = true
                        appendReadySlot(HTTPResponseEncoder.continueResponse, to: connection)
                    }
                }
                connection.compactInbound()
                flush(connection)
                return
            case .invalid(let error):
                connection.stopReading()
                connection.inboundStart = connection.inbound.count
                var bytes: [UInt8] = []
                HTTPResponseEncoder.encode(
                    .text(error.status, error.status.reasonPhrase),
                    context: .init(isHead: false, isHTTP10KeepAlive: false, isClosing: true),
                    dateLine: dateCache.line,
                    into: &bytes
                )
                appendReadySlot(bytes, to: connection, closes: true)
            }
        }
        connection.compactInbound()
        flush(connection)
    }

    private func appendReadySlot(_ bytes: [UInt8], to connection: Connection, closes: Bool = false) {
        let sequence = connection.nextSequence
        connection.nextSequence += 1
        connection.slots.append(Connection.Slot(
            sequence: sequence,
            ready: bytes,
            response: nil,
            context: .init(isHead: false, isHTTP10KeepAlive: false, isClosing: closes)
        ))
    }

    private func dispatch(_ parsed: ParsedRequest, on connection: Connection) {
        let head = parsed.head
        if !head.isKeepAlive {
            connection.stopReading()
        }
        let request = HTTPRequest(
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body: parsed.body,
            remoteAddress: connection.remoteAddress,
            remotePort: connection.remotePort,
            clientCertificate: (connection.transport as? TLSTransport)?.clientCertificate
        )
        let context = HTTPResponseEncoder.Context(
            isHead: head.method == .HEAD,
            isHTTP10KeepAlive: head.version == .http1_0 && head.isKeepAlive,
            isClosing: !head.isKeepAlive
        )
        // The fast path: answered here, on this thread, and written by the flush that ends this
        // pass unless an earlier response on the connection is still pending. No task, no wake-up;
        // nothing waits, so it does not count against maxInFlightRequests.
        if let response = responder.respondImmediately(to: request) {
            let sequence = connection.nextSequence
            connection.nextSequence += 1
            connection.slots.append(Connection.Slot(sequence: sequence, ready: nil, response: response, context: context))
            return
        }
        let inFlight = counters.inFlightRequests.wrappingAdd(1, ordering: .relaxed).newValue
        guard inFlight <= configuration.limits.maxInFlightRequests else {
            // Overloaded: answer at once rather than queue (CONVENTIONS: every queue is bounded).
            counters.inFlightRequests.wrappingSubtract(1, ordering: .relaxed)
            counters.requestsRefusedOverload.wrappingAdd(1, ordering: .relaxed)
            connection.stopReading()
            var bytes: [UInt8] = []
            HTTPResponseEncoder.encode(
                Self.overloadResponse(),
                context: .init(isHead: head.method == .HEAD, isHTTP10KeepAlive: false, isClosing: true),
                dateLine: dateCache.line,
                into: &bytes
            )
            appendReadySlot(bytes, to: connection, closes: true)
            return
        }
        let sequence = connection.nextSequence
        connection.nextSequence += 1
        connection.slots.append(Connection.Slot(sequence: sequence, ready: nil, response: nil, context: context))
        let responder = self.responder
        let counters = self.counters
        let connectionID = connection.id
        Task {
            let response = await responder.respond(to: request)
            counters.inFlightRequests.wrappingSubtract(1, ordering: .relaxed)
            self.deliver(connection: connectionID, sequence: sequence, response: response)
        }
    }

    /// Serializes the answered slots in order and sends as much as the socket takes.
    func flush(_ connection: Connection) {
        switch connection.state {
        case .reading, .draining:
            appendAnsweredSlots(connection)
        case .closingAfterFlush, .lingering:
            break
        case .closed:
            return
        }
        if connection.hasUnsentOutput {
            let result = connection.outbound.withUnsafeBytes { bytes in
                connection.transport.write(UnsafeRawBufferPointer(rebasing: bytes[connection.outboundSent...]))
            }
            if case .wouldBlock(let readiness) = result {
                connection.writeWaitsFor = readiness
            } else {
                connection.writeWaitsFor = .writable
            }
            switch result {
            case .transferred(let count):
                connection.outboundSent += count
                connection.lastWriteProgress = now
                if !connection.hasUnsentOutput {
                    if connection.outbound.capacity > Connection.retainedOutboundCapacity {
                        connection.outbound = []
                    } else {
                        connection.outbound.removeAll(keepingCapacity: true)
                    }
                    connection.outboundSent = 0
                }
            case .wouldBlock:
                break
            case .failed, .endOfFile:
                close(connection)
                return
            }
        }
        if !connection.hasUnsentOutput {
            if case .closingAfterFlush(let isPeerClosed) = connection.state {
                beginLingeringClose(connection, isPeerClosed: isPeerClosed)
                return
            }
            if connection.isIdle {
                connection.idleSince = now
            }
        }
        updateInterest(connection)
        updateDeadline(connection)
    }

    /// Serializes the answered slots at the head of the pipeline into `outbound`, in order.
    func appendAnsweredSlots(_ connection: Connection) {
        while let slot = connection.slots.first {
            var context = slot.context
            // Shutting down: the last answer on the connection says so.
            if isShuttingDown && connection.slots.count == 1 {
                context.isClosing = true
            }
            if let ready = slot.ready {
                connection.outbound.append(contentsOf: ready)
            } else if let response = slot.response {
                let dropped = HTTPResponseEncoder.encode(response, context: context, dateLine: dateCache.line, into: &connection.outbound)
                if !dropped.isEmpty {
                    log?("dropped invalid response header(s): \(dropped.joined(separator: ", "))")
                }
            } else {
                break
            }
            connection.slots.removeFirst()
            if context.isClosing {
                connection.closeAfterFlush()
                connection.slots.removeAll()
                return
            }
        }
    }

    /// Shuts the write side and discards input for a bounded time before closing, so unread
    /// request bytes do not make the kernel reset the connection and destroy the last response.
    private func beginLingeringClose(_ connection: Connection, isPeerClosed: Bool) {
        if isPeerClosed {
            close(connection)
            return
        }
        connection.transport.shutdownWrite()
        connection.state = .lingering(until: now &+ lingeringCloseNanoseconds)
        connection.inbound = []
        connection.inboundStart = 0
        updateInterest(connection)
        updateDeadline(connection)
    }

    func updateInterest(_ connection: Connection) {
        var wanted: UInt32 = 0
        switch connection.state {
        case .closed:
            return
        case .lingering:
            wanted = Self.events(for: connection.readWaitsFor)
        case .reading, .draining, .closingAfterFlush:
            if wantsInput(connection) { wanted |= Self.events(for: connection.readWaitsFor) }
            if connection.hasUnsentOutput { wanted |= Self.events(for: connection.writeWaitsFor) }
        }
        if wanted != connection.registeredEvents {
            connection.registeredEvents = wanted
            System.epollModify(epollFD, fd: connection.fd, events: wanted, data: connection.id)
        }
    }

    /// Whether the loop reads from the connection now: while reading requests with room in the
    /// pipeline and the buffers, or discarding input while lingering.
    func wantsInput(_ connection: Connection) -> Bool {
        switch connection.state {
        case .reading:
            let limits = configuration.limits
            return connection.slots.count < max(1, limits.maxPipelinedRequestsPerConnection)
                && connection.unsentOutputCount < limits.maxBufferedResponseBytes
                && connection.inbound.count - connection.inboundStart < Self.maximumBufferedInputBytes(limits)
        case .lingering:
            return true
        case .draining, .closingAfterFlush, .closed:
            return false
        }
    }

    private static func events(for readiness: SocketReadiness) -> UInt32 {
        readiness == .readable ? System.epollIn : System.epollOut
    }

    /// Unparsed input kept while the pipeline is full: one head plus one read. Bounds the memory
    /// a client that pipelines faster than it is answered can make the server hold.
    static func maximumBufferedInputBytes(_ limits: HTTPServerLimits) -> Int {
        limits.maxHeaderBytes + readBufferBytes
    }
}
