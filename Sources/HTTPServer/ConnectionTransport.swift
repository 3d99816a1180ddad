/// What a transport needs from the socket before a blocked read or write can move.
enum SocketReadiness: Equatable {
    case readable
    case writable
}

/// The outcome of one transport read or write.
enum TransportResult {
    /// This many bytes were read into the buffer, or taken from it to be sent.
    case transferred(Int)
    /// The peer ended its sending side (reads only): a FIN, or TLS close_notify.
    case endOfFile
    /// Nothing can move until the socket is readable or writable. A plain socket's read waits
    /// for readable and its write for writable; a TLS session may need the opposite (a read
    /// that must first send, a write that must first receive: `SSL_ERROR_WANT_WRITE` /
    /// `SSL_ERROR_WANT_READ`).
    case wouldBlock(SocketReadiness)
    /// The connection is broken; close it.
    case failed(Int32)
}

/// How one connection's bytes reach the peer: the seam between the event loop and the socket.
///
/// The loop owns HTTP (parsing, pipelining, timers) and calls only these methods for the bytes:
/// `PlainTransport` is read(2)/send(2) on the socket; a TLS session sits here to serve HTTPS,
/// decrypting on `read` and encrypting on `write`. Called on the connection's loop thread only,
/// and never blocks.
protocol ConnectionTransport: AnyObject {
    /// Reads available bytes (plaintext, for TLS) into `buffer`.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportResult

    /// Sends a prefix of `bytes`; `.transferred(n)` means the first `n` bytes are taken.
    func write(_ bytes: UnsafeRawBufferPointer) -> TransportResult

    /// Bytes already taken from the socket and waiting inside the transport (TLS records read
    /// ahead): the socket will not become readable for them, so the loop reads again at once.
    var hasBufferedInput: Bool { get }

    /// Ends the sending side in order after the last response: a FIN for a plain socket (TLS:
    /// close_notify, then the FIN). Reading may continue (lingering close).
    func shutdownWrite()

    /// Releases the transport and closes the descriptor; called once.
    func close()
}
