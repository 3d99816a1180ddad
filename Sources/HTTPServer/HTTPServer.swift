import Foundation
import Synchronization

/// An HTTP/1.1 server: epoll event loops own the sockets; handlers run as Swift tasks.
public final class HTTPServer: Sendable {
    private enum State {
        case idle
        case running(loops: [EventLoop], port: UInt16)
        case stopped
    }

    private let configuration: HTTPServerConfiguration
    private let responder: any HTTPResponder
    private let log: (@Sendable (String) -> Void)?
    private let counters = ServerCounters()
    private let state = Mutex(State.idle)

    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, log: (@Sendable (String) -> Void)? = nil) {
        self.configuration = configuration
        self.responder = responder
        self.log = log
    }

    /// Binds and listens (`SO_REUSEADDR`; with several event loops, one `SO_REUSEPORT` listener
    /// each, after checking that no other socket holds the address), then starts the event-loop threads.
    ///
    /// - Throws: `HTTPServerError`, e.g. `.addressInUse` when another socket holds the port.
    public func start() throws {
        try state.withLock { state throws(HTTPServerError) in
            guard case .idle = state else { throw .alreadyStarted }
            let threads = max(1, configuration.eventLoopThreads)
            var loops: [EventLoop] = []
            var port = configuration.port
            do throws(HTTPServerError) {
                if threads > 1 && port != 0 {
                    try System.checkAddressIsFree(host: configuration.host, port: port)
                }
                for _ in 0..<threads {
                    let listener = try System.makeListener(
                        host: configuration.host,
                        port: port,
                        reusePort: threads > 1,
                        backlog: configuration.listenBacklog
                    )
                    port = listener.port
                    do throws(HTTPServerError) {
                        loops.append(try EventLoop(
                            configuration: configuration, responder: responder, log: log,
                            counters: counters, listenFD: listener.fd
                        ))
                    } catch {
                        System.close(listener.fd)
                        throw error
                    }
                }
            } catch {
                for loop in loops { loop.discardUnstarted() }
                throw error
            }
            for (index, loop) in loops.enumerated() {
                let thread = Thread {
                    // A new thread inherits its creator's name; this one says what it is (top, perf, gdb).
                    System.setCurrentThreadName("http-loop-\(index)")
                    loop.run()
                }
                thread.start()
            }
            state = .running(loops: loops, port: port)
        }
    }

    /// The bound TCP port once `start()` returned (useful with port 0); 0 before.
    public var localPort: UInt16 {
        state.withLock { state in
            if case .running(_, let port) = state { return port }
            return 0
        }
    }

    /// The connection and request counters, read now.
    public var statistics: HTTPServerStatistics { counters.statistics }

    /// Stops gracefully: closes the listener and idle connections at once, lets in-flight requests
    /// finish and be written (with `Connection: close`) until `deadline` has passed, then closes the
    /// rest and stops the loops. Returns when stopped; calling it again just waits.
    public func shutdown(deadline: Duration) async {
        let loops: [EventLoop] = state.withLock { state in
            switch state {
            case .idle:
                state = .stopped
                return []
            case .running(let loops, _):
                return loops
            case .stopped:
                return []
            }
        }
        for loop in loops {
            loop.requestShutdown(grace: deadline)
        }
        await waitUntilStopped()
    }

    /// Returns once every event loop has stopped (immediately if the server never started).
    public func waitUntilStopped() async {
        let loops: [EventLoop] = state.withLock { state in
            if case .running(let loops, _) = state { return loops }
            return []
        }
        for loop in loops {
            await loop.waitUntilStopped()
        }
    }
}
