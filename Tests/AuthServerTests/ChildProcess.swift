import Foundation

/// Runs a program to completion on a thread of its own, so that waiting for it never
/// occupies a thread of Swift's cooperative pool (which the server under test needs to
/// answer the program's requests).
enum ChildProcess {
    struct Result: Sendable {
        var status: Int32
        var output: String
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = output.fileHandleForReading
        return await withCheckedContinuation { continuation in
            let thread = Thread {
                let data = reader.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: Result(status: process.terminationStatus,
                                                      output: String(decoding: data, as: UTF8.self)))
            }
            thread.start()
        }
    }
}
