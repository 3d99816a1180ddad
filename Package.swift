// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tessera", targets: ["TesseraCLI"]),
        .executable(name: "tessera-bench", targets: ["TesseraBench"]),
        // The parsers and protocol code, for the fuzzing package in Fuzz/ (`make fuzz`).
        .library(name: "TesseraProtocol", targets: ["HTTPServer", "JOSE", "OAuth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C: the only C we write (system calls Glibc does not export).
        .target(name: "CSystemShims"),
        // System libraries, each wrapped by exactly one Swift module.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibSSL", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),

        .target(name: "TLS", dependencies: ["CLibSSL"]),
        .target(name: "HTTPServer", dependencies: ["CSystemShims", "TLS"]),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "JOSE", dependencies: ["COpenSSL"]),
        .target(name: "PasswordHashing", dependencies: ["CArgon2"]),
        .target(name: "OAuth", dependencies: ["JOSE", "PasswordHashing"]),
        .target(name: "PostgresStorage", dependencies: ["Postgres", "OAuth", "JOSE"]),
        .target(name: "AuthServer", dependencies: ["HTTPServer", "TLS", "Postgres", "PostgresStorage", "OAuth", "JOSE", "PasswordHashing"]),
        .executableTarget(
            name: "TesseraCLI",
            dependencies: [
                "AuthServer",
                "HTTPServer",
                "TLS",
                "Postgres",
                "PostgresStorage",
                "OAuth",
                "JOSE",
                "PasswordHashing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "TesseraBench", dependencies: ["JOSE"]),
        // In-memory twins of every store, a clock tests move by hand, and test keys: for tests only.
        .target(name: "TestSupport", dependencies: ["OAuth", "JOSE", "PasswordHashing"]),

        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "TLS"]),
        .testTarget(name: "PostgresIntegrationTests", dependencies: ["Postgres", "JOSE"]),
        .testTarget(name: "JOSETests", dependencies: ["JOSE"]),
        .testTarget(name: "PasswordHashingTests", dependencies: ["PasswordHashing"]),
        .testTarget(name: "OAuthTests", dependencies: ["OAuth", "JOSE", "PasswordHashing", "TestSupport"]),
        .testTarget(name: "AuthServerTests", dependencies: ["AuthServer", "HTTPServer", "TLS", "Postgres", "PostgresStorage", "OAuth", "JOSE"]),
    ],
    swiftLanguageModes: [.v6]
)
