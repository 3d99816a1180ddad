internal import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: its name and `errno`.
struct SystemError: Error, CustomStringConvertible {
    let call: String
    let errno: Int32

    var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Every system call the HTTP server makes, with `EINTR` retry and `errno` capture.
///
/// Nothing else in the module calls into Glibc or CSystemShims for I/O; the rest
/// of the code sees small result enums instead of return codes.
enum System {
    enum ReadResult {
        case bytes(Int)
        case endOfFile
        case wouldBlock
        case failed(Int32)
    }

    enum WriteResult {
        case wrote(Int)
        case wouldBlock
        case failed(Int32)
    }

    enum AcceptResult {
        case accepted(fd: Int32, address: String, port: UInt16, source: SourceAddressKey?)
        case wouldBlock
        /// The process or system is out of descriptors or memory; accepting should pause.
        case exhausted(Int32)
        /// The pending connection failed before it was accepted; try the next one.
        case connectionFailed(Int32)
    }

    struct EpollEvent {
        var events: UInt32
        var data: UInt64
    }

    static let epollIn = TESSERA_EPOLLIN
    static let epollOut = TESSERA_EPOLLOUT
    static let epollError = TESSERA_EPOLLERR
    static let epollHangUp = TESSERA_EPOLLHUP

    // MARK: Sockets

    /// Throws `.addressInUse` when another socket is bound to `host:port`, by binding a socket
    /// without `SO_REUSEPORT` (which no other socket's `SO_REUSEPORT` lets share the port) and
    /// closing it. Listeners that share a port with `SO_REUSEPORT` would otherwise also join the
    /// group of another server of the same user already listening there, and split its traffic.
    static func checkAddressIsFree(host: String, port: UInt16) throws(HTTPServerError) {
        let probe = try makeListener(host: host, port: port, reusePort: false, backlog: nil)
        close(probe.fd)
    }

    /// Creates a non-blocking TCP listener bound to `host:port` (`SO_REUSEADDR`, and `SO_REUSEPORT` when asked);
    /// with a nil `backlog`, the socket is only bound, not listening.
    static func makeListener(host: String, port: UInt16, reusePort: Bool, backlog: Int32?) throws(HTTPServerError) -> (fd: Int32, port: UInt16) {
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr = v4
                raw.storeBytes(of: address, as: sockaddr_in.self)
            }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = port.bigEndian
                address.sin6_addr = v6
                raw.storeBytes(of: address, as: sockaddr_in6.self)
            }
        } else {
            throw .invalidHost(host)
        }

        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system(SystemError(call: "socket", errno: errno)) }
        var one: Int32 = 1
        let optionLength = socklen_t(MemoryLayout<Int32>.size)
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, optionLength) == 0 else {
            let error = errno
            close(fd)
            throw .system(SystemError(call: "setsockopt(SO_REUSEADDR)", errno: error))
        }
        if reusePort {
            guard setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, optionLength) == 0 else {
                let error = errno
                close(fd)
                throw .system(SystemError(call: "setsockopt(SO_REUSEPORT)", errno: error))
            }
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let error = errno
            close(fd)
            if error == EADDRINUSE {
                throw .addressInUse(host: host, port: port)
            }
            throw .system(SystemError(call: "bind(\(host):\(port))", errno: error))
        }
        if let backlog, listen(fd, backlog) != 0 {
            let error = errno
            close(fd)
            if error == EADDRINUSE {
                throw .addressInUse(host: host, port: port)
            }
            throw .system(SystemError(call: "listen", errno: error))
        }
        var boundStorage = sockaddr_storage()
        var boundLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &boundStorage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &boundLength) }
        }
        guard named == 0 else {
            let error = errno
            close(fd)
            throw .system(SystemError(call: "getsockname", errno: error))
        }
        return (fd, addressAndPort(of: &boundStorage).port)
    }

    /// Accepts one pending connection as a non-blocking, close-on-exec socket with `TCP_NODELAY`.
    static func accept(listener: Int32) -> AcceptResult {
        var storage = sockaddr_storage()
        while true {
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    tessera_accept_nonblocking(listener, $0, &length)
                }
            }
            if fd >= 0 {
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                let (address, port) = addressAndPort(of: &storage)
                return .accepted(fd: fd, address: address, port: port, source: sourceKey(of: &storage))
            }
            let error = errno
            switch error {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                return .wouldBlock
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                return .exhausted(error)
            default:
                return .connectionFailed(error)
            }
        }
    }

    private static func addressAndPort(of storage: inout sockaddr_storage) -> (address: String, port: UInt16) {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                    return (Self.string(fromCString: text), UInt16(bigEndian: pointer.pointee.sin_port))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var address = pointer.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                    return (Self.string(fromCString: text), UInt16(bigEndian: pointer.pointee.sin6_port))
                }
            }
        default:
            return ("", 0)
        }
    }

    /// The per-source key of a peer address (see `SourceAddressKey`); nil for a non-IP family.
    private static func sourceKey(of storage: inout sockaddr_storage) -> SourceAddressKey? {
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    SourceAddressKey(ipv4: UInt32(bigEndian: pointer.pointee.sin_addr.s_addr))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    SourceAddressKey(ipv6: pointer.pointee.sin6_addr.__in6_u.__u6_addr8)
                }
            }
        default:
            return nil
        }
    }

    private static func string(fromCString text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count > 0 { return .bytes(count) }
            if count == 0 { return .endOfFile }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(error)
            }
        }
    }

    /// Sends on a socket with `MSG_NOSIGNAL`, so a peer that went away yields `EPIPE` instead of killing the process.
    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> WriteResult {
        while true {
            let count = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if count >= 0 { return .wrote(count) }
            let error = errno
            switch error {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(error)
            }
        }
    }

    /// Half-closes the sending side, so the peer sees end-of-file after the last response.
    static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes a descriptor. `EINTR` is not retried: on Linux the descriptor is released anyway.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    // MARK: epoll and eventfd

    static func epollCreate() throws(HTTPServerError) -> Int32 {
        let fd = tessera_epoll_create()
        guard fd >= 0 else { throw .system(SystemError(call: "epoll_create1", errno: errno)) }
        return fd
    }

    @discardableResult
    static func epollAdd(_ epoll: Int32, fd: Int32, events: UInt32, data: UInt64) -> Bool {
        tessera_epoll_ctl(epoll, TESSERA_EPOLL_CTL_ADD, fd, events, data) == 0
    }

    @discardableResult
    static func epollModify(_ epoll: Int32, fd: Int32, events: UInt32, data: UInt64) -> Bool {
        tessera_epoll_ctl(epoll, TESSERA_EPOLL_CTL_MOD, fd, events, data) == 0
    }

    static func epollRemove(_ epoll: Int32, fd: Int32) {
        _ = tessera_epoll_ctl(epoll, TESSERA_EPOLL_CTL_DEL, fd, 0, 0)
    }

    /// Waits for events; returns how many were stored, 0 on timeout or interruption.
    static func epollWait(_ epoll: Int32, into events: UnsafeMutableBufferPointer<EpollEvent>, timeoutMilliseconds: Int32) -> Int {
        let count = events.withMemoryRebound(to: tessera_epoll_event.self) { native in
            tessera_epoll_wait(epoll, native.baseAddress, Int32(native.count), timeoutMilliseconds)
        }
        // EINTR: report no events; the loop recomputes its timeout and waits again.
        return count > 0 ? Int(count) : 0
    }

    static func eventfdCreate() throws(HTTPServerError) -> Int32 {
        let fd = tessera_eventfd_create()
        guard fd >= 0 else { throw .system(SystemError(call: "eventfd", errno: errno)) }
        return fd
    }

    /// Adds one to the eventfd counter, making it readable. A full counter (`EAGAIN`) is already readable.
    static func eventfdSignal(_ fd: Int32) {
        var one: UInt64 = 1
        while Glibc.write(fd, &one, 8) < 0 && errno == EINTR {}
    }

    /// Resets the eventfd counter to zero.
    static func eventfdDrain(_ fd: Int32) {
        var value: UInt64 = 0
        while Glibc.read(fd, &value, 8) < 0 && errno == EINTR {}
    }

    // MARK: Signals

    /// Ignores a signal (so it does not terminate the process) or restores its default action.
    /// Catches SIGTERM and SIGINT into a pipe from now on; returns the pipe's read end.
    static func installTerminationPipe() -> Int32 {
        tessera_termination_install()
    }

    /// Gives SIGTERM and SIGINT their default actions back.
    static func restoreTerminationSignals() {
        tessera_termination_restore()
    }

    /// Blocks until a byte can be read from `descriptor`; nil at end of file or on error.
    static func readByte(_ descriptor: Int32) -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(descriptor, &byte, 1)
            if count == 1 { return byte }
            if count < 0 && errno == EINTR { continue }
            return nil
        }
    }

    // MARK: Processors

    /// The processors this process may run on (its affinity mask), at least 1.
    static func availableProcessors() -> Int {
        Int(tessera_available_processors())
    }

    /// Names the calling thread as the system sees it (at most 15 bytes are kept).
    static func setCurrentThreadName(_ name: String) {
        tessera_set_thread_name(name)
    }

    // MARK: Clocks

    /// Nanoseconds on the monotonic clock (unaffected by wall-clock changes).
    static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Seconds since the Unix epoch, and the UTC calendar fields for it.
    static func wallClockUTC() -> (seconds: Int, fields: tm) {
        var now = time_t()
        time(&now)
        var fields = tm()
        gmtime_r(&now, &fields)
        return (Int(now), fields)
    }
}
