import TLS

/// TLS on the loop thread: handshakes driven by readiness, and the byte I/O of TLS connections.
///
/// Plain connections read and send through `System` directly; a TLS connection goes through its
/// session, which reads and writes the same non-blocking socket. Everything here runs inline on the
/// loop thread: a TLS request takes no extra thread hop.
extension EventLoop {
    /// Makes the TLS session of a newly accepted connection on a TLS listener (nil: out of memory).
    func makeTLSConnection(_ tls: HTTPServerTLS, fd: Int32) -> TLSConnection? {
        guard let session = try? TLSSession(context: tls.contexts.current, socket: fd) else { return nil }
        return TLSConnection(session: session, now: now)
    }

    /// A readiness event on a TLS connection: the handshake first, then reads and writes through the session.
    func handleTLSEvent(_ events: UInt32, on connection: Connection, _ tls: TLSConnection) {
        if tls.isHandshaking {
            guard !advanceHandshake(connection, tls) else { return }
            // Application data may have arrived with the client's Finished.
            readAvailable(connection)
        } else if events & System.epollIn != 0 || (tls.readWantsWrite && events & System.epollOut != 0) {
            readAvailable(connection)
        } else if events & (System.epollError | System.epollHangUp) != 0 {
            close(connection)
            return
        }
        // A close_notify that came with the last request: one more read reports the end of input, which
        // the socket will not signal again once the session has consumed everything.
        while tls.sawCloseNotify && !connection.isClosed {
            tls.sawCloseNotify = false
            readAvailable(connection)
        }
        if !connection.isClosed && (events & System.epollOut != 0 || (tls.writeWantsRead && events & System.epollIn != 0)) {
            flush(connection)
        }
    }

    /// Advances a handshake on any readiness event. Returns true while the handshake is still going (or
    /// just failed and closed the connection); false once it completed and application data may flow.
    func advanceHandshake(_ connection: Connection, _ tls: TLSConnection) -> Bool {
        switch tls.session.handshake() {
        case .complete:
            tls.isHandshaking = false
            configuration.tls?.onHandshake?(.completed(resumed: tls.session.isResumed))
            // The first request head is due within headerRead of the handshake's end.
            connection.headStartedAt = now
            connection.idleSince = now
            updateInterest(connection)
            updateDeadline(connection)
            return false
        case .wantRead:
            setInterest(connection, System.epollIn)
            return true
        case .wantWrite:
            setInterest(connection, System.epollOut)
            return true
        case .failed(let reason):
            // A failed handshake (garbage, an old protocol, a refused certificate) just closes: an
            // alert, if any, went out from inside the session; nothing else may be sent.
            tls.isBroken = true
            configuration.tls?.onHandshake?(.failed(reason))
            close(connection)
            return true
        }
    }

    func setInterest(_ connection: Connection, _ events: UInt32) {
        guard !connection.isClosed, events != connection.registeredEvents else { return }
        connection.registeredEvents = events
        System.epollModify(epollFD, fd: connection.fd, events: events, data: connection.id)
    }

    /// Reads plaintext into `readBuffer`: several TLS records per call while room remains.
    func receive(_ connection: Connection) -> System.ReadResult {
        let isLingering = if case .lingering = connection.state { true } else { false }
        guard let tls = connection.tls, !isLingering else {
            return System.read(connection.fd, into: readBuffer)
        }
        tls.readWantsWrite = false
        var total = 0
        while total < readBuffer.count {
            switch tls.session.read(into: UnsafeMutableRawBufferPointer(rebasing: readBuffer[total...])) {
            case .bytes(let count):
                total += count
            case .wantRead:
                return total > 0 ? .bytes(total) : .wouldBlock
            case .wantWrite:
                tls.readWantsWrite = true
                return total > 0 ? .bytes(total) : .wouldBlock
            case .closed:
                if total > 0 { tls.sawCloseNotify = true }
                return total > 0 ? .bytes(total) : .endOfFile
            case .failed:
                tls.isBroken = true
                return total > 0 ? .bytes(total) : .failed(0)
            }
        }
        return .bytes(total)
    }

    /// Sends plaintext (encrypted for a TLS connection).
    func transmit(_ connection: Connection, _ bytes: UnsafeRawBufferPointer) -> System.WriteResult {
        guard let tls = connection.tls else { return System.send(connection.fd, bytes) }
        tls.writeWantsRead = false
        switch tls.session.write(bytes) {
        case .wrote(let count): return .wrote(count)
        case .wantWrite: return .wouldBlock
        case .wantRead:
            tls.writeWantsRead = true
            return .wouldBlock
        case .failed:
            tls.isBroken = true
            return .failed(0)
        }
    }

    /// The readiness a TLS session itself is waiting for, beyond what the HTTP state wants.
    func tlsInterest(_ connection: Connection) -> UInt32 {
        guard let tls = connection.tls else { return 0 }
        var events: UInt32 = 0
        if tls.readWantsWrite { events |= System.epollOut }
        if tls.writeWantsRead { events |= System.epollIn }
        return events
    }

    /// Sends close_notify once (RFC 8446 §6.1) before the write side closes: one non-blocking attempt,
    /// never after a fatal error, never waiting for the peer's.
    func sendCloseNotify(_ connection: Connection) {
        guard let tls = connection.tls, !tls.isHandshaking, !tls.isBroken, !tls.isCloseNotifySent else { return }
        tls.isCloseNotifySent = true
        _ = tls.session.shutdown()
    }
}
