// One libFuzzer binary for every target: `FUZZ_TARGET=<name> tessera-fuzz [libFuzzer options] CORPUS`.
// Built with coverage instrumentation and AddressSanitizer, linked with libFuzzer's no-main
// runtime; `make fuzz` runs each target for FUZZ_SECONDS. Without FUZZ_TARGET the binary lists them.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HTTPServer
import JOSE
@testable import OAuth

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Fixed material the targets verify against (made once per process).
enum Fixtures {
    static let signingKeys: [SigningKey] = JWSAlgorithm.allCases.compactMap { try? SigningKey.generate($0) }
    static let verificationKeys = signingKeys.map(\.verificationKey)
    static let kek: KeyEncryptionKey? = try? KeyEncryptionKey(bytes: Array(repeating: 7, count: 32))
    static let opaque: OpaqueTokenKeyring? = kek.map { OpaqueTokenKeyring(kek: $0) }
    static let now = Date()
    static let client = Client(
        id: "web", name: "Web", type: .public, authMethod: .none, grantTypes: [.authorizationCode, .refreshToken],
        redirectURIs: ["https://app.example.com/cb", "http://127.0.0.1/cb"], allowedScopes: Scope(["openid", "profile", "email"]),
        defaultScopes: Scope(["openid"]), audiences: ["https://api.example.com"], createdAt: now, updatedAt: now)
}

/// Each target takes arbitrary bytes and must neither crash nor trap, whatever they are.
let targets: [String: ([UInt8]) -> Void] = [
    // The HTTP/1.1 request parser: the input whole, then split at a point the input chooses.
    "http": { bytes in
        for split in [bytes.count, bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)] {
            var parser = HTTPRequestParser(limits: HTTPServerLimits())
            var buffer = Array(bytes[..<split])
            var rest = Array(bytes[split...])
            feeding: while true {
                let result = buffer.withUnsafeBytes { parser.parse($0) }
                switch result {
                case .complete(_, let consumed):
                    buffer.removeFirst(consumed)
                case .needMoreData(let consumed):
                    buffer.removeFirst(consumed)
                    if rest.isEmpty { break feeding }
                    buffer += rest
                    rest = []
                case .invalid:
                    break feeding
                }
            }
        }
    },
    // application/x-www-form-urlencoded bodies, as the token endpoint reads them.
    "form": { bytes in
        _ = try? FormURLEncoded.pairs(bytes)
        _ = try? FormURLEncoded.parameters(bytes)
        _ = try? TokenRequest(body: bytes)
    },
    // The Authorization header of client_secret_basic.
    "basic": { bytes in
        _ = try? BasicCredentials.parse(authorization: String(decoding: bytes, as: UTF8.self))
    },
    // JWS verification, JSON parsing and the claims readers of access and ID tokens.
    "jws": { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? JWS.verify(text, keys: Fixtures.verificationKeys)
        _ = try? JSONValue(parsing: bytes)
        _ = AccessTokenClaims.parse(json: bytes)
        _ = IDTokenHint.verify(text, keys: Fixtures.verificationKeys, issuer: "https://id.example.com")
        _ = Base64URL.decode(text)
    },
    // Opaque access tokens: prefix, key id, base64url, AES-GCM and the sealed claims.
    "opaque": { bytes in
        let text = String(decoding: bytes, as: UTF8.self)
        _ = Fixtures.opaque?.open(text, at: Int64(Fixtures.now.timeIntervalSince1970))
        _ = Fixtures.opaque?.open(OpaqueAccessToken.prefix + text, at: Int64(Fixtures.now.timeIntervalSince1970))
    },
    // The authorization request: decoding, both stages of checks, the redirect URI rules.
    "authorize": { bytes in
        guard let parameters = try? AuthorizationParameters(encoded: bytes) else { return }
        _ = try? parameters.clientID()
        guard let redirectURI = try? parameters.redirectURI(for: Fixtures.client) else { return }
        if let request = try? parameters.validate(client: Fixtures.client, redirectURI: redirectURI) {
            _ = request.requiresFreshLogin(authTime: Fixtures.now, now: Fixtures.now)
            _ = RedirectURI.adding([("code", "c"), ("state", request.state ?? "")], to: request.redirectURI)
        }
    },
]

nonisolated(unsafe) var selected: ([UInt8]) -> Void = { _ in }

guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = targets[name] else {
    print("set FUZZ_TARGET to one of: \(targets.keys.sorted().joined(separator: " "))")
    exit(2)
}
selected = target
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    selected(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
})
