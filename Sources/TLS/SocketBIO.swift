internal import CLibSSL
#if canImport(Glibc)
import Glibc
#endif

/// A libcrypto BIO over a non-blocking socket that sends with `MSG_NOSIGNAL`.
///
/// OpenSSL's own socket BIO writes with `write(2)`, which raises `SIGPIPE` when the peer has gone; the
/// server does not ignore that signal, so a vanished client would kill the process. This BIO makes one
/// `send`/`recv` per call, retries `EINTR`, turns `EAGAIN` into OpenSSL's retry flags, and never closes
/// the descriptor (the connection that owns it does).
enum SocketBIO {
    // BIO flag bits (bio.h) behind the `BIO_set_retry_*` / `BIO_clear_retry_flags` macros.
    static let flagRead: Int32 = 0x01
    static let flagWrite: Int32 = 0x02
    static let flagIOSpecial: Int32 = 0x04
    static let flagShouldRetry: Int32 = 0x08
    static let flagInputEOF: Int32 = 0x800

    /// The method table, made once; OpenSSL only reads it afterwards.
    nonisolated(unsafe) static let method: OpaquePointer? = {
        guard let method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tessera socket") else { return nil }
        BIO_meth_set_write_ex(method, write)
        BIO_meth_set_read_ex(method, read)
        BIO_meth_set_ctrl(method, control)
        BIO_meth_set_create(method, create)
        return method
    }()

    /// A new BIO for `fd`, or nil when out of memory.
    static func make(fd: Int32) -> OpaquePointer? {
        guard fd >= 0, let method, let bio = BIO_new(method) else { return nil }
        // The descriptor is kept in the data pointer, offset by one so that descriptor 0 is not a null pointer.
        BIO_set_data(bio, UnsafeMutableRawPointer(bitPattern: Int(fd) + 1))
        return bio
    }

    static func descriptor(_ bio: OpaquePointer) -> Int32 {
        Int32(Int(bitPattern: BIO_get_data(bio)) - 1)
    }

    static let create: @convention(c) (OpaquePointer?) -> Int32 = { bio in
        BIO_set_init(bio, 1)
        return 1
    }

    static let write: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = { bio, data, length, written in
        guard let bio else { return 0 }
        BIO_clear_flags(bio, flagRead | flagWrite | flagIOSpecial | flagShouldRetry)
        while true {
            let count = send(descriptor(bio), data, length, Int32(MSG_NOSIGNAL))
            if count >= 0 {
                written?.pointee = count
                return 1
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                BIO_set_flags(bio, flagWrite | flagShouldRetry)
                return 0
            default:
                return 0
            }
        }
    }

    static let read: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutablePointer<Int>?) -> Int32 = { bio, data, length, count in
        guard let bio else { return 0 }
        BIO_clear_flags(bio, flagRead | flagWrite | flagIOSpecial | flagShouldRetry)
        while true {
            let received = recv(descriptor(bio), data, length, 0)
            if received > 0 {
                count?.pointee = received
                return 1
            }
            if received == 0 {
                BIO_set_flags(bio, flagInputEOF)
                return 0
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                BIO_set_flags(bio, flagRead | flagShouldRetry)
                return 0
            default:
                return 0
            }
        }
    }

    static let control: @convention(c) (OpaquePointer?, Int32, Int, UnsafeMutableRawPointer?) -> Int = { bio, command, _, _ in
        guard let bio else { return 0 }
        switch command {
        case BIO_CTRL_FLUSH: return 1
        case BIO_CTRL_EOF: return BIO_test_flags(bio, flagInputEOF) != 0 ? 1 : 0
        default: return 0
        }
    }
}
