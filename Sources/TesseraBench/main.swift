// Micro-benchmarks run by `make bench` (scripts/bench-jose.sh): JWS signing and verification per
// algorithm on one thread.
//
// Without arguments: rates per second of CPU time, one "name ops_per_second" line each, which the
// script sets against `openssl speed` (which also counts CPU time) measured in the same run
// (BENCH_JOSE_SECONDS per operation, default 3).
//
// `tessera-bench count NAME N`: runs operation NAME exactly N times inside `countedOperations`, and
// nothing else there, so that `valgrind --tool=callgrind --toggle-collect='*countedOperations*'`
// counts the instructions of N operations and no set-up (key generation varies from run to run).
import Foundation
import JOSE

let claims = Array(#"{"iss":"https://issuer.example","sub":"billing","aud":"https://api.example.com","exp":1900000000,"iat":1899999400,"jti":"b1c2d3e4f5","client_id":"billing","scope":"invoices:read invoices:write"}"#.utf8)

/// One measured operation: its name ("ES256_sign_jws") and a closure that performs it once.
struct Operation {
    let name: String
    let body: () throws -> Void
}

/// The operations for one algorithm, on a freshly generated key.
func operations(_ algorithm: JWSAlgorithm) throws -> [Operation] {
    let key = try SigningKey.generate(algorithm)
    let keys = [key.verificationKey]
    let signingInput = Array("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0".utf8)
    let signature = try key.sign(signingInput)
    let token = try JWS.sign(payload: claims, key: key, type: "at+jwt")
    let prefix = algorithm.rawValue + "_"
    return [
        Operation(name: prefix + "sign_raw") { _ = try key.sign(signingInput) },
        Operation(name: prefix + "sign_jws") { _ = try JWS.sign(payload: claims, key: key, type: "at+jwt") },
        Operation(name: prefix + "verify_raw") {
            guard key.verificationKey.verify(signature: signature, message: signingInput) else { throw BenchError.rejected }
        },
        Operation(name: prefix + "verify_jws") { _ = try JWS.verify(token, keys: keys) },
    ]
}

enum BenchError: Error {
    case rejected
    case usage(String)
}

/// The CPU time this process has used, in nanoseconds. `openssl speed` times its loops in CPU time too
/// (user time, unless given `-elapsed`), so the two rates stay comparable when other jobs share the cores.
func cpuNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

func rate(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
    // Warm-up, then count whole operations in the measured window of CPU time.
    for _ in 0..<50 { try body() }
    let start = cpuNanoseconds()
    let end = start + UInt64(seconds * 1e9)
    var count = 0
    var now = start
    while now < end {
        for _ in 0..<20 { try body() }
        count += 20
        now = cpuNanoseconds()
    }
    return Double(count) / (Double(now - start) / 1e9)
}

/// The only code callgrind counts in `count` mode (see the top of this file).
@inline(never)
func countedOperations(_ count: Int, _ body: () throws -> Void) rethrows {
    for _ in 0..<count { try body() }
}

do {
    let arguments = CommandLine.arguments.dropFirst()
    if arguments.first == "count" {
        guard arguments.count == 3, let count = Int(arguments[arguments.startIndex + 2]), count > 0 else {
            throw BenchError.usage("usage: tessera-bench count NAME N")
        }
        let name = arguments[arguments.startIndex + 1]
        let all = try JWSAlgorithm.allCases.flatMap { try operations($0) }
        guard let operation = all.first(where: { $0.name == name }) else {
            throw BenchError.usage("unknown operation \(name); one of: \(all.map(\.name).joined(separator: " "))")
        }
        try operation.body()   // warm-up: lazily made contexts and tables are not part of the count
        try countedOperations(count, operation.body)
    } else {
        let seconds = Double(ProcessInfo.processInfo.environment["BENCH_JOSE_SECONDS"] ?? "3") ?? 3
        for algorithm in JWSAlgorithm.allCases {
            for operation in try operations(algorithm) {
                print("\(operation.name) \(Int(try rate(seconds: seconds, operation.body)))")
            }
        }
    }
} catch {
    FileHandle.standardError.write(Data("benchmark failed: \(error)\n".utf8))
    exit(1)
}
