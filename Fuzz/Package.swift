// swift-tools-version:6.0
// Coverage-guided fuzzing of Tessera's parsers with libFuzzer: `make fuzz` (see README).
// A package of its own so that the main build and `make test` never see the instrumentation.
import PackageDescription

let package = Package(
    name: "TesseraFuzz",
    // The project itself, through a link that `make fuzz` makes (Fuzz/.project/tessera -> ../..), so
    // that the dependency is named "tessera" whatever the checkout's folder is called.
    dependencies: [.package(path: ".project/tessera")],
    targets: [
        .executableTarget(name: "TesseraFuzz", dependencies: [.product(name: "TesseraProtocol", package: "tessera")]),
    ]
)
