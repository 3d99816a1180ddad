import Foundation
import OAuth
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a new password from standard input or from the terminal, never from arguments or
/// the environment (which other local users and shell histories can see).
///
/// These reads block the calling thread; that is acceptable in a one-shot CLI command,
/// which has nothing else to do until the password arrives.
enum PasswordInput {
    /// Longest line read, in bytes: the longest password plus a `\r` before the `\n`.
    static let lineLimit = User.maximumPasswordBytes + 1

    /// The new password: the first line of standard input with `fromStandardInput`, else
    /// typed twice at a prompt with echo off. Exits with one line on standard error when
    /// there is none or it breaks ``User/passwordProblem(_:)``.
    static func newPassword(fromStandardInput: Bool) -> String {
        let password: String
        if fromStandardInput {
            do { password = try firstLine(of: STDIN_FILENO, from: "standard input") } catch { fail(error.message, code: error.code) }
        } else {
            guard isatty(STDIN_FILENO) == 1 else {
                fail("no password: standard input is not a terminal, so pipe the password in and add --password-stdin", code: 2)
            }
            password = prompt("Password: ")
            if let problem = User.passwordProblem(password) { fail(problem, code: 2) }
            // Byte for byte: String equality would call two different UTF-8 spellings equal.
            guard Array(prompt("Repeat the password: ").utf8) == Array(password.utf8) else { fail("the passwords do not match", code: 2) }
        }
        if let problem = User.passwordProblem(password) { fail(problem, code: 2) }
        return password
    }

    /// Why no password could be read; the message never contains the password.
    struct Refusal: Error {
        let message: String
        let code: Int32
    }

    /// The first line of `descriptor`, without its `\n` or `\r\n`; it must be UTF-8.
    static func firstLine(of descriptor: Int32, from source: String) throws(Refusal) -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(descriptor, &byte, 1)
            if count < 0 {
                if errno == EINTR { continue }
                throw Refusal(message: "cannot read the password from \(source): \(String(cString: strerror(errno)))", code: 1)
            }
            if count == 0 {
                if bytes.isEmpty { throw Refusal(message: "no password: \(source) is empty", code: 2) }
                break
            }
            if byte == UInt8(ascii: "\n") { break }
            guard bytes.count < lineLimit else { throw Refusal(message: "the password must be at most \(User.maximumPasswordBytes) bytes", code: 2) }
            bytes.append(byte)
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard let password = String(bytes: bytes, encoding: .utf8) else { throw Refusal(message: "the password is not valid UTF-8", code: 2) }
        return password
    }

    /// Shows `text` on standard error and reads one line from the terminal on standard input
    /// with echo off, like getpass(3); the terminal is restored afterwards, also when SIGINT,
    /// SIGTERM or SIGHUP ends the command meanwhile.
    static func prompt(_ text: String) -> String {
        guard tcgetattr(STDIN_FILENO, savedTerminal) == 0 else { fail("cannot read the terminal settings: \(String(cString: strerror(errno)))") }
        var silent = savedTerminal.pointee
        silent.c_lflag &= ~tcflag_t(ECHO)
        // A plain signal handler, not a dispatch source: a source is armed asynchronously, and a
        // signal that came first would be lost while its default action is disabled.
        let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
        let previous = signals.map { signal($0, restoreTerminalAndResignal) }
        func restore() {
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, savedTerminal)
            FileHandle.standardError.write(Data("\n".utf8))
            // Only once the terminal is back may a signal have its usual effect again.
            for (number, handler) in zip(signals, previous) { _ = signal(number, handler) }
        }
        // Echo goes off before the prompt shows, so nothing typed after the prompt can be echoed
        // (or discarded by TCSAFLUSH).
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent) == 0 else {
            restore()
            fail("cannot turn off the terminal's echo: \(String(cString: strerror(errno)))")
        }
        FileHandle.standardError.write(Data(text.utf8))
        let line: String
        do { line = try firstLine(of: STDIN_FILENO, from: "the terminal") } catch {
            restore()
            fail(error.message, code: error.code)
        }
        restore()
        return line
    }
}

/// The terminal settings from before a prompt turned echo off. Written before the signal
/// handlers are installed and only read by them afterwards; a pointer rather than a variable,
/// so that the handler makes no exclusivity-checked access.
nonisolated(unsafe) private let savedTerminal = UnsafeMutablePointer<termios>.allocate(capacity: 1)

/// The signal handler during a prompt: puts the terminal's echo back, then lets the signal
/// end the process as it would have (tcsetattr, write, signal and raise are async-signal-safe).
private func restoreTerminalAndResignal(_ number: Int32) {
    _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, savedTerminal)
    var newline = UInt8(ascii: "\n")
    _ = write(STDERR_FILENO, &newline, 1)
    _ = signal(number, SIG_DFL)
    _ = raise(number)
}
