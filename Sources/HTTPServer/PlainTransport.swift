/// A connection's bytes straight over its TCP socket.
final class PlainTransport: ConnectionTransport {
    let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult {
        switch System.read(fd, into: buffer) {
        case .bytes(let count): .transferred(count)
        case .endOfFile: .endOfFile
        case .wouldBlock: .wouldBlock(.readable)
        case .failed(let error): .failed(error)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportResult {
        switch System.send(fd, bytes) {
        case .wrote(let count): .transferred(count)
        case .wouldBlock: .wouldBlock(.writable)
        case .failed(let error): .failed(error)
        }
    }

    var hasBufferedInput: Bool { false }

    func shutdownWrite() {
        System.shutdownWrite(fd)
    }

    func close() {
        System.close(fd)
    }
}
