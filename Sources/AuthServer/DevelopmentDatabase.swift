import Foundation
import Postgres

/// The embedded default: a private PostgreSQL cluster under `.data/` for `tessera dev`.
///
/// The cluster listens on a Unix socket inside its own folder only (no TCP port),
/// is created on first use and reused afterwards. PostgreSQL refuses to run as root,
/// so when we are root the cluster belongs to the `postgres` user and its commands
/// run through `runuser`.
public struct DevelopmentDatabase: Sendable {
    /// The project-local state folder (`.data`).
    public let stateDirectory: String
    /// The database Tessera uses inside the cluster.
    public static let databaseName = "tessera"
    private let say: @Sendable (String) -> Void

    public init(stateDirectory: String, say: @escaping @Sendable (String) -> Void) {
        self.stateDirectory = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        self.say = say
    }

    /// Where the cluster lives: `.data/postgres`, holding `data/` (PGDATA), `run/` (the socket) and `server.log`.
    public var clusterDirectory: String { stateDirectory + "/postgres" }
    var dataDirectory: String { clusterDirectory + "/data" }
    var socketDirectory: String { clusterDirectory + "/run" }
    var logFile: String { clusterDirectory + "/server.log" }

    /// What ``start()`` did, so ``stop(_:)`` stops only a server it started.
    public struct Session: Sendable {
        public let databaseURL: String
        public let startedServer: Bool
    }

    /// Initialises the cluster if needed, starts it if it is not running, creates the
    /// database if missing, and returns how to reach it.
    public func start() throws -> Session {
        let binaries = try Self.serverBinaries()
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try prepareClusterDirectory(binaries: binaries)

        // A Unix socket path is limited to 107 bytes (sun_path); fail clearly rather than obscurely.
        let socketPath = socketDirectory + "/.s.PGSQL.5432"
        guard socketPath.utf8.count < 104 else {
            throw DevelopmentDatabaseError("the socket path \(socketPath) is too long for a Unix socket; clone the project into a shorter path")
        }

        if !fileManager.fileExists(atPath: dataDirectory + "/PG_VERSION") {
            say("initialising a private PostgreSQL cluster in \(clusterDirectory)")
            try run(binaries + "/initdb", ["-D", dataDirectory, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"], asOwner: true)
        }

        var startedServer = false
        if (try? run(binaries + "/pg_ctl", ["status", "-D", dataDirectory], asOwner: true)) == nil {
            say("starting PostgreSQL on the Unix socket in \(socketDirectory)")
            try run(binaries + "/pg_ctl", [
                "start", "-w", "-t", "60", "-D", dataDirectory, "-l", logFile,
                "-o", "-c listen_addresses='' -c unix_socket_directories='\(socketDirectory)'",
            ], asOwner: true)
            startedServer = true
        } else {
            say("PostgreSQL is already running in \(clusterDirectory); reusing it")
        }
        return Session(databaseURL: Self.socketURL(directory: socketDirectory, database: Self.databaseName), startedServer: startedServer)
    }

    /// Creates the `tessera` database when it does not exist yet.
    public func createDatabaseIfMissing() async throws {
        let admin = PostgresPool(configuration: try .url(Self.socketURL(directory: socketDirectory, database: "postgres")), size: 1)
        defer { Task { await admin.close() } }
        let rows = try await admin.query("SELECT 1 FROM pg_database WHERE datname = \(Self.databaseName)")
        if rows.isEmpty {
            say("creating database \(Self.databaseName)")
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE tessera"))
        }
    }

    /// Stops the cluster if this session started it.
    public func stop(_ session: Session) {
        guard session.startedServer, let binaries = try? Self.serverBinaries() else { return }
        say("stopping PostgreSQL")
        _ = try? run(binaries + "/pg_ctl", ["stop", "-w", "-m", "fast", "-D", dataDirectory], asOwner: true)
    }

    /// Makes `.data/postgres` usable by the cluster's owner. As root, the `postgres`
    /// user must be able to reach the folder; when a parent (such as a 0700 home
    /// folder) stops it, the cluster lives under /var/lib/tessera-dev instead and
    /// `.data/postgres` links there.
    private func prepareClusterDirectory(binaries: String) throws {
        let fileManager = FileManager.default
        guard Self.isRoot else {
            try fileManager.createDirectory(atPath: clusterDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try fileManager.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return
        }
        if !fileManager.fileExists(atPath: clusterDirectory) {
            try fileManager.createDirectory(atPath: clusterDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try run("/bin/chown", ["postgres:postgres", clusterDirectory], asOwner: false)
            if (try? run("/usr/bin/test", ["-w", clusterDirectory], asOwner: true)) == nil {
                try fileManager.removeItem(atPath: clusterDirectory)
                let elsewhere = "/var/lib/tessera-dev/" + Self.folderKey(stateDirectory)
                say("the postgres user cannot reach \(stateDirectory); keeping the cluster in \(elsewhere) (linked from \(clusterDirectory))")
                try fileManager.createDirectory(atPath: elsewhere, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try run("/bin/chown", ["postgres:postgres", elsewhere], asOwner: false)
                try fileManager.createSymbolicLink(atPath: clusterDirectory, withDestinationPath: elsewhere)
            }
        }
        if !fileManager.fileExists(atPath: socketDirectory) {
            try run("/usr/bin/mkdir", ["-p", "-m", "0700", socketDirectory], asOwner: true)
        }
    }

    /// Runs a command, as the cluster owner when asked and we are root; throws with its output on failure.
    @discardableResult
    private func run(_ executable: String, _ arguments: [String], asOwner: Bool) throws -> String {
        let process = Process()
        if asOwner && Self.isRoot {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        // Output goes to a file, not a pipe: a server started by pg_ctl could inherit a
        // pipe's write end and keep it open, and reading to its end would never finish.
        let outputPath = NSTemporaryDirectory() + "tessera-dev-\(UUID().uuidString).log"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath) else {
            throw DevelopmentDatabaseError("cannot create a temporary file in \(NSTemporaryDirectory())")
        }
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let status = Self.waitForExit(process)
        try? output.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw DevelopmentDatabaseError("\((executable as NSString).lastPathComponent) \(arguments.first ?? "") failed: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return text
    }

    static var isRoot: Bool { geteuid() == 0 }

    /// The exit status of `process`. Foundation learns of a child's exit through a
    /// descriptor the child inherits; a server that `pg_ctl start` leaves running inherits
    /// it too, so Foundation would wait for as long as PostgreSQL runs. Reaping the child
    /// with waitpid(2) does not depend on that descriptor.
    static func waitForExit(_ process: Process) -> Int32 {
        var status: Int32 = 0
        while true {
            let result = waitpid(process.processIdentifier, &status, 0)
            if result == process.processIdentifier {
                // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
                return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            if result == -1 && errno == EINTR { continue }
            // Foundation reaped it first.
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    /// PostgreSQL's server binaries: `$PGBIN`, else the newest /usr/lib/postgresql/N/bin.
    static func serverBinaries() throws -> String {
        let fileManager = FileManager.default
        if let configured = ProcessInfo.processInfo.environment["PGBIN"], fileManager.isExecutableFile(atPath: configured + "/initdb") {
            return configured
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? fileManager.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where fileManager.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw DevelopmentDatabaseError("PostgreSQL server binaries not found: install the 'postgresql' package (make run does) or set PGBIN")
    }

    /// A libpq URL for a Unix-socket server; the folder is percent-encoded so that
    /// any path is carried intact (RFC 3986 §2.1).
    static func socketURL(directory: String, database: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        let host = directory.addingPercentEncoding(withAllowedCharacters: allowed) ?? directory
        return "postgresql://postgres@/\(database)?host=\(host)"
    }

    /// A short stable name for a folder, for the fallback location.
    static func folderKey(_ path: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: a name, not a security boundary
        for byte in path.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}

/// `tessera dev` could not prepare its database; the message says what to do.
public struct DevelopmentDatabaseError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
