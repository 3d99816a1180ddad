import Foundation
import HTTPServer
import JOSE
import OAuth
import Postgres
import PostgresStorage
import Testing
@testable import AuthServer

/// Tokens Tessera signs verify in PyJWT and jwcrypto, which fetch the JWKS over HTTP
/// from a running server (`make test` provides the Python environment).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["PGHOST"] != nil
                && ProcessInfo.processInfo.environment["TESSERA_TEST_PYTHON"] != nil,
                "needs PostgreSQL and the end-to-end Python environment (make test provides both)"))
struct JWSInteropTests {
    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    @Test("PyJWT and jwcrypto verify RS256 and ES256 tokens against the served JWKS, and reject tampered ones")
    func independentVerification() async throws {
        let database = try await TestDatabase.make()
        let configuration = try Configuration.load(environment: ["TESSERA_LISTEN": "127.0.0.1:0"])
        let manager = KeyManager(store: PostgresSigningKeyStore(pool: database.pool), kek: try KeyEncryptionKey(bytes: SecureRandom.bytes(32)))
        let keys = KeyService(manager: manager, logger: Logger(level: .error), feed: nil)
        try await keys.prepare()
        let server = TesseraServer(configuration: configuration, pool: database.pool, keys: keys, logger: Logger(level: .error))
        try server.start()

        var cases: [[String: any Sendable]] = []
        let ring = keys.current.ring
        for algorithm in JWSAlgorithm.allCases {
            let key = try #require(ring.signingKey(for: algorithm))
            let payload = Array(#"{"iss":"https://issuer.example","sub":"s","aud":"a","exp":4102444800,"iat":1700000000}"#.utf8)
            let token = try JWS.sign(payload: payload, key: key, type: "JWT")
            cases.append(["token": token, "alg": algorithm.rawValue, "valid": true])
            var parts = token.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(#"{"sub":"mallory"}"#.utf8))
            cases.append(["token": parts.joined(separator: "."), "alg": algorithm.rawValue, "valid": false])
        }
        let file = NSTemporaryDirectory() + "tokens-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }

        let python = ProcessInfo.processInfo.environment["TESSERA_TEST_PYTHON"] ?? "python3"
        let result = try await ChildProcess.run(python, [
            Self.repository.appendingPathComponent("Tests/EndToEnd/tools/verify_jws.py").path,
            "http://127.0.0.1:\(server.localPort)/.well-known/jwks.json", file,
        ])
        let text = result.output
        #expect(result.status == 0, "\(text)")
        #expect(text.components(separatedBy: "ok  ").count - 1 == 4)
        await server.shutdown()
        await database.drop()
    }
}
