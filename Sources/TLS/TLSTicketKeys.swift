internal import CLibSSL
import Foundation
import Synchronization

/// The keys that seal TLS session tickets (RFC 5077, RFC 8446 §4.6.1), rotated on a schedule.
///
/// A ticket is sealed with the current key (AES-256-CBC and HMAC-SHA-256, as OpenSSL's ticket callback
/// expects) and opened with the current or the previous key; a ticket under the previous key is accepted
/// and replaced by a fresh one. After two rotations a ticket no longer opens and the client makes a full
/// handshake, so a stolen ticket key exposes at most two periods of resumed sessions.
///
/// Every context of the process shares one set by default, so a certificate reload does not end resumption.
public final class TLSTicketKeys: Sendable {
    struct Key {
        var name: [UInt8]        // 16 bytes, sent in the ticket to find the key again
        var encryptionKey: [UInt8]
        var macKey: [UInt8]
        var createdAt: Date
    }

    private struct State {
        var current: Key
        var previous: Key?
    }

    /// The process-wide set, rotated every 12 hours.
    public static let shared = TLSTicketKeys(rotationInterval: 12 * 3600)

    /// How long a key seals new tickets; it then opens old ones for as long again. Tickets are issued with
    /// this lifetime, so a ticket always outlives its key by no more than one period.
    public let rotationInterval: TimeInterval
    private let state: Mutex<State>

    public init(rotationInterval: TimeInterval) {
        self.rotationInterval = rotationInterval
        self.state = Mutex(State(current: Self.newKey(now: Date()), previous: nil))
    }

    /// Starts a new key now; the current one becomes the previous one, and the previous one is forgotten.
    public func rotate() {
        state.withLock { state in
            state.previous = state.current
            state.current = Self.newKey(now: Date())
        }
    }

    /// The key that seals a new ticket, rotating first when the current one is due.
    func sealingKey(now: Date = Date()) -> Key {
        state.withLock { state in
            if now.timeIntervalSince(state.current.createdAt) >= rotationInterval {
                state.previous = state.current
                state.current = Self.newKey(now: now)
            }
            return state.current
        }
    }

    /// The key a ticket names, and whether the ticket should be renewed (it was sealed with the previous key).
    func openingKey(name: UnsafeBufferPointer<UInt8>, now: Date = Date()) -> (key: Key, renew: Bool)? {
        state.withLock { state in
            // Compared in constant time: a key name is not secret, but nothing about the keys should leak.
            if Self.equal(state.current.name, name) { return (state.current, false) }
            if let previous = state.previous, Self.equal(previous.name, name),
               now.timeIntervalSince(previous.createdAt) < 2 * rotationInterval {
                return (previous, true)
            }
            return nil
        }
    }

    private static func equal(_ lhs: [UInt8], _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    private static func newKey(now: Date) -> Key {
        Key(name: LibSSL.randomBytes(16), encryptionKey: LibSSL.randomBytes(32), macKey: LibSSL.randomBytes(32), createdAt: now)
    }
}

extension TLSTicketKeys {
    /// The `SSL_CTX` extra-data slot that points at a context's ticket keys.
    static let contextSlot: Int32 = CRYPTO_get_ex_new_index(CRYPTO_EX_INDEX_SSL_CTX, 0, nil, nil, nil, nil)

    /// OpenSSL's ticket key callback (`SSL_CTX_set_tlsext_ticket_key_evp_cb`): 1 sealed or opened,
    /// 2 opened but renew, 0 unknown key (full handshake), -1 failure.
    static let callback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?, OpaquePointer?, OpaquePointer?, Int32) -> Int32 = { ssl, name, iv, cipher, mac, encrypt in
        guard let ssl, let name, let iv, let cipher, let mac, let context = SSL_get_SSL_CTX(ssl),
              let raw = SSL_CTX_get_ex_data(context, TLSTicketKeys.contextSlot) else { return -1 }
        let keys = Unmanaged<TLSTicketKeys>.fromOpaque(raw).takeUnretainedValue()
        let key: Key
        var result: Int32 = 1
        if encrypt == 1 {
            key = keys.sealingKey()
            for index in 0..<16 { name[index] = key.name[index] }
            guard RAND_bytes(iv, 16) == 1 else { return -1 }
            guard key.encryptionKey.withUnsafeBufferPointer({ EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nil, $0.baseAddress, iv) }) == 1 else { return -1 }
        } else {
            guard let found = keys.openingKey(name: UnsafeBufferPointer(start: name, count: 16)) else { return 0 }
            key = found.key
            if found.renew { result = 2 }
            guard key.encryptionKey.withUnsafeBufferPointer({ EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nil, $0.baseAddress, iv) }) == 1 else { return -1 }
        }
        let macStatus = key.macKey.withUnsafeBufferPointer { macKey in
            "key".withCString { keyName in
                "digest".withCString { digestName in
                    "SHA256".withCString { digest in
                        var parameters = [
                            OSSL_PARAM_construct_octet_string(keyName, UnsafeMutableRawPointer(mutating: macKey.baseAddress), macKey.count),
                            OSSL_PARAM_construct_utf8_string(digestName, UnsafeMutablePointer(mutating: digest), 0),
                            OSSL_PARAM_construct_end(),
                        ]
                        return EVP_MAC_CTX_set_params(mac, &parameters)
                    }
                }
            }
        }
        return macStatus == 1 ? result : -1
    }
}
