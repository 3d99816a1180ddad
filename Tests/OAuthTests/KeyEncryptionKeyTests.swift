import Foundation
import JOSE
import Testing
@testable import OAuth

@Suite struct KeyEncryptionKeyTests {
    @Test("A sealed private key opens with the same key and kid only")
    func sealOpen() throws {
        let kek = try KeyEncryptionKey(bytes: SecureRandom.bytes(32))
        let sealed = try kek.seal([1, 2, 3], kid: "a")
        #expect(try kek.open(sealed, kid: "a") == [1, 2, 3])
        #expect(throws: KeyEncryptionKeyError.self) { try kek.open(sealed, kid: "b") }
        let other = try KeyEncryptionKey(bytes: SecureRandom.bytes(32))
        #expect(throws: KeyEncryptionKeyError.self) { try other.open(sealed, kid: "a") }
        #expect(kek.id != other.id)
    }

    @Test("The key file is created once with mode 0600, then read back")
    func fileCreation() throws {
        let folder = NSTemporaryDirectory() + "kek-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/kek"
        let (first, created) = try KeyEncryptionKey.loadOrCreate(path: path)
        #expect(created)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (second, createdAgain) = try KeyEncryptionKey.loadOrCreate(path: path)
        #expect(!createdAgain)
        #expect(first.id == second.id)
    }

    @Test("A missing or malformed key file is a clear error")
    func badFiles() throws {
        #expect(throws: KeyEncryptionKeyError.self) { try KeyEncryptionKey.load(path: "/nonexistent/kek") }
        let path = NSTemporaryDirectory() + "kek-bad-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: KeyEncryptionKeyError.self) { try KeyEncryptionKey.load(path: path) }
        try Data((Base64URL.encode([1, 2, 3]) + "\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: KeyEncryptionKeyError.self) { try KeyEncryptionKey.load(path: path) }
    }
}
