// Micro-benchmarks run by `make bench`: JWS signing and verification rates per
// algorithm on one thread, printed as "name ops_per_second" lines for scripts/bench.sh,
// which sets them against `openssl speed` measured in the same run.
import Foundation
import JOSE

func rate(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
    // Warm-up, then count whole operations in the measured window.
    for _ in 0..<50 { try body() }
    let start = DispatchTime.now().uptimeNanoseconds
    let end = start + UInt64(seconds * 1e9)
    var count = 0
    var now = start
    while now < end {
        for _ in 0..<20 { try body() }
        count += 20
        now = DispatchTime.now().uptimeNanoseconds
    }
    return Double(count) / (Double(now - start) / 1e9)
}

let seconds = Double(ProcessInfo.processInfo.environment["BENCH_JOSE_SECONDS"] ?? "3") ?? 3
let claims = Array(#"{"iss":"https://issuer.example","sub":"billing","aud":"https://api.example.com","exp":1900000000,"iat":1899999400,"jti":"b1c2d3e4f5","client_id":"billing","scope":"invoices:read invoices:write"}"#.utf8)

do {
    for algorithm in JWSAlgorithm.allCases {
        let key = try SigningKey.generate(algorithm)
        let keys = [key.verificationKey]
        let signingInput = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0".utf8)
        let rawSign = try rate(seconds: seconds) { _ = try key.sign(signingInput) }
        let token = try JWS.sign(payload: claims, key: key, type: "at+jwt")
        let jwsSign = try rate(seconds: seconds) { _ = try JWS.sign(payload: claims, key: key, type: "at+jwt") }
        let jwsVerify = try rate(seconds: seconds) { _ = try JWS.verify(token, keys: keys) }
        print("\(algorithm.rawValue)_sign_raw \(Int(rawSign))")
        print("\(algorithm.rawValue)_sign_jws \(Int(jwsSign))")
        print("\(algorithm.rawValue)_verify_jws \(Int(jwsVerify))")
    }
} catch {
    FileHandle.standardError.write(Data("benchmark failed: \(error)\n".utf8))
    exit(1)
}
