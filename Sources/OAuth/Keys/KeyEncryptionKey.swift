import Foundation
#if canImport(Glibc)
import Glibc
#endif
import JOSE

/// The key-encryption key: 32 random bytes that seal every private signing key at rest
/// with AES-256-GCM. It lives in a file (`TESSERA_KEYS_DIR/kek`, or `TESSERA_KEK_FILE`),
/// never in the database.
public struct KeyEncryptionKey: Sendable {
    private let bytes: [UInt8]
    /// A public identifier of this key (an HMAC of a fixed label), stored with each sealed
    /// key so that a wrong key-encryption key is reported as such.
    public let id: String

    public static let fileName = "kek"

    public init(bytes: [UInt8]) throws(KeyEncryptionKeyError) {
        guard bytes.count == 32 else { throw .invalid("must be 32 bytes, found \(bytes.count)") }
        self.bytes = bytes
        self.id = String(Base64URL.encode(HMACSHA256.authenticate(Array("tessera key-encryption key id".utf8), key: bytes)).prefix(16))
    }

    /// Seals a private key; the kid is authenticated too, so a sealed key cannot be swapped to another row.
    public func seal(_ privateKey: [UInt8], kid: String) throws -> [UInt8] {
        try AESGCM.seal(privateKey, key: bytes, authenticating: Array(kid.utf8))
    }

    public func open(_ sealed: [UInt8], kid: String) throws(KeyEncryptionKeyError) -> [UInt8] {
        do {
            return try AESGCM.open(sealed, key: bytes, authenticating: Array(kid.utf8))
        } catch {
            throw .wrongKey("the private key \(kid) does not decrypt with this key-encryption key")
        }
    }

    /// The file to use: `kekFile` if set, else `directory/kek`.
    public static func path(directory: String, kekFile: String?) -> String {
        if let kekFile, !kekFile.isEmpty { return kekFile }
        return (directory as NSString).appendingPathComponent(fileName)
    }

    /// Reads the key; a missing or malformed file is an error, never a new key.
    public static func load(path: String) throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .missing("no key-encryption key at \(path); create one with `tessera keys init` (tessera dev does it for you)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let bytes = Base64URL.decode(text) else { throw .invalid("\(path) is not a base64url-encoded 32-byte key") }
        do { return try KeyEncryptionKey(bytes: bytes) } catch { throw .invalid("\(path): \(error)") }
    }

    /// Creates the file with mode 0600 if it does not exist; returns the key and whether it was created.
    public static func loadOrCreate(path: String) throws(KeyEncryptionKeyError) -> (key: KeyEncryptionKey, created: Bool) {
        if FileManager.default.fileExists(atPath: path) { return (try load(path: path), false) }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch { throw .unwritable("cannot create \(directory): \(error.localizedDescription)") }
        let bytes = SecureRandom.bytes(32)
        let text = Base64URL.encode(bytes) + "\n"
        // O_EXCL: two processes creating the key at once cannot both win and disagree.
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return (try load(path: path), false) }
            throw .unwritable("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let written = text.utf8CString.withUnsafeBufferPointer { buffer in write(fd, buffer.baseAddress, buffer.count - 1) }
        let synced = fsync(fd) == 0
        Glibc.close(fd)
        guard written == text.utf8.count, synced else { throw .unwritable("cannot write \(path)") }
        return (try KeyEncryptionKey(bytes: bytes), true)
    }
}

public enum KeyEncryptionKeyError: Error, CustomStringConvertible, Sendable {
    case missing(String), invalid(String), wrongKey(String), unwritable(String)
    public var description: String {
        switch self {
        case .missing(let m), .invalid(let m), .wrongKey(let m), .unwritable(let m): m
        }
    }
}

extension KeyEncryptionKey {
    /// A 32-byte key for `purpose`, derived from this key (HMAC-SHA-256 as a PRF, keyed
    /// by the key-encryption key, over a label that names the purpose). Derived keys are
    /// independent of each other and of the sealing key itself; every instance that
    /// shares the key-encryption key derives the same ones.
    public func derivedKey(purpose: String) -> [UInt8] {
        HMACSHA256.authenticate(Array("tessera derived key v1: \(purpose)".utf8), key: bytes)
    }
}
