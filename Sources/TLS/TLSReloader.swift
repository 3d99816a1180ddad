import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The files a listener's TLS is configured from.
public struct TLSFiles: Sendable, Hashable {
    /// One or two certificate chains (leaf first) with their keys: an ECDSA chain, an RSA chain, or both.
    public var certificates: [CertificateFile]
    /// The CA bundle client certificates must chain to; nil when the listener does not ask for them.
    public var clientCA: String?

    public struct CertificateFile: Sendable, Hashable {
        public var certificate: String
        public var key: String
        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public init(certificates: [CertificateFile], clientCA: String? = nil) {
        self.certificates = certificates
        self.clientCA = clientCA
    }

    var paths: [String] { certificates.flatMap { [$0.certificate, $0.key] } + (clientCA.map { [$0] } ?? []) }
}

/// What a reload check found.
public enum TLSReloadOutcome: Sendable {
    /// Nothing changed (or a change that already failed has not changed again).
    case unchanged
    /// A change was seen; it is loaded once the files have stayed the same for one more check, so a
    /// certificate and key written one after the other are read together.
    case settling
    /// New files were loaded; new connections use this context.
    case reloaded(TLSServerContext)
    /// The changed files cannot serve; the previous context stays in use.
    case refused(TLSConfigurationError)
}

/// A listener's current TLS context, rebuilt when its certificate, key or CA files change.
///
/// New connections take `current`; open connections keep the context they started with. A replacement
/// that cannot serve (unparsable, a key that does not match, expired, a broken CA bundle) is refused and
/// the previous context stays. `TLSFileWatcher` calls `reloadIfChanged` on a schedule.
public final class TLSReloader: Sendable {
    public let files: TLSFiles
    let isClientCertificateRequired: Bool
    let acceptsSelfSigned: Bool
    let ticketKeys: TLSTicketKeys

    private struct State {
        var context: TLSServerContext
        /// The `stat` fingerprint and the digest of the contents the current context was built from.
        var loadedFingerprint: [FileFingerprint?]
        var loadedDigest: [UInt8]
        /// A changed fingerprint seen at the last check and not yet loaded.
        var pendingFingerprint: [FileFingerprint?]?
        /// A fingerprint whose files were refused; not retried until the files change again.
        var refusedFingerprint: [FileFingerprint?]?
    }

    private let state: Mutex<State>

    /// Loads the files now; a problem is thrown, for the server to refuse to start.
    public init(files: TLSFiles, isClientCertificateRequired: Bool = false, acceptsSelfSigned: Bool = false, ticketKeys: TLSTicketKeys = .shared) throws(TLSConfigurationError) {
        self.files = files
        self.isClientCertificateRequired = isClientCertificateRequired
        self.acceptsSelfSigned = acceptsSelfSigned
        self.ticketKeys = ticketKeys
        let fingerprint = files.paths.map(FileFingerprint.init(path:))
        let (context, digest) = try Self.load(files, isClientCertificateRequired: isClientCertificateRequired, acceptsSelfSigned: acceptsSelfSigned, ticketKeys: ticketKeys)
        state = Mutex(State(context: context, loadedFingerprint: fingerprint, loadedDigest: digest))
    }

    /// The context new connections use.
    public var current: TLSServerContext { state.withLock { $0.context } }

    /// Checks the files and reloads them if they changed and have settled.
    public func reloadIfChanged() -> TLSReloadOutcome {
        let fingerprint = files.paths.map(FileFingerprint.init(path:))
        let decision: Bool? = state.withLock { state in
            if fingerprint == state.loadedFingerprint || fingerprint == state.refusedFingerprint {
                state.pendingFingerprint = nil
                return nil
            }
            if fingerprint != state.pendingFingerprint {
                state.pendingFingerprint = fingerprint
                return false
            }
            return true
        }
        guard let settled = decision else { return .unchanged }
        guard settled else { return .settling }
        do {
            let (context, digest) = try Self.load(files, isClientCertificateRequired: isClientCertificateRequired, acceptsSelfSigned: acceptsSelfSigned, ticketKeys: ticketKeys)
            return state.withLock { state in
                state.pendingFingerprint = nil
                state.refusedFingerprint = nil
                state.loadedFingerprint = fingerprint
                // Rewritten with the same contents (a touch, a re-sync): nothing to do.
                if digest == state.loadedDigest { return .unchanged }
                state.loadedDigest = digest
                state.context = context
                return .reloaded(context)
            }
        } catch {
            state.withLock { state in
                state.pendingFingerprint = nil
                state.refusedFingerprint = fingerprint
            }
            return .refused(error)
        }
    }

    static func load(_ files: TLSFiles, isClientCertificateRequired: Bool, acceptsSelfSigned: Bool, ticketKeys: TLSTicketKeys) throws(TLSConfigurationError) -> (TLSServerContext, [UInt8]) {
        var contents: [UInt8] = []
        var credentials: [TLSCredentials] = []
        for file in files.certificates {
            let chain = try PEMFile.read(file.certificate, as: .certificate)
            let key = try PEMFile.read(file.key, as: .privateKey)
            contents += LibSSL.sha256(chain) + LibSSL.sha256(key)
            do {
                credentials.append(try TLSCredentials(certificateChainPEM: chain, privateKeyPEM: key))
            } catch {
                throw error.at(error.input == .privateKey ? file.key : file.certificate)
            }
        }
        var policy: ClientCertificatePolicy?
        if let path = files.clientCA {
            let bundle = try PEMFile.read(path, as: .clientCA)
            contents += LibSSL.sha256(bundle)
            do {
                policy = ClientCertificatePolicy(trust: try CertificateTrustStore(pem: bundle), isRequired: isClientCertificateRequired, acceptsSelfSigned: acceptsSelfSigned)
            } catch {
                throw TLSConfigurationError(.clientCA, path: path, error.description)
            }
        }
        let context = try TLSServerContext(credentials: credentials, clientCertificates: policy, ticketKeys: ticketKeys)
        return (context, LibSSL.sha256(contents))
    }
}

/// What `stat` says about a file: enough to notice a replacement (new inode, as a Kubernetes secret
/// update or `mv` makes) or a rewrite in place (size, modification and change times).
struct FileFingerprint: Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int64
    var changed: Int64
    var changedNanoseconds: Int64

    /// nil when the file cannot be stat'ed (missing, for now).
    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec)
        changedNanoseconds = Int64(info.st_ctim.tv_nsec)
    }
}

/// Polls one or more reloaders on a thread of its own (a few `stat` calls per period, files read only
/// when they change), reporting each reload and refusal.
public final class TLSFileWatcher: Sendable {
    public enum Event: Sendable {
        case reloaded(TLSReloader, TLSServerContext)
        case refused(TLSReloader, TLSConfigurationError)
    }

    /// The stop flag, guarded by the condition the thread sleeps on.
    private final class Control: @unchecked Sendable {
        let condition = NSCondition()
        var isStopped = false
    }

    private let control = Control()

    /// Starts polling every `interval` seconds until `stop()`.
    public init(reloaders: [TLSReloader], interval: TimeInterval = 1, onEvent: @escaping @Sendable (Event) -> Void) {
        let thread = Thread { [control] in
            while true {
                control.condition.lock()
                let deadline = Date().addingTimeInterval(interval)
                while !control.isStopped && control.condition.wait(until: deadline) {}
                let isStopped = control.isStopped
                control.condition.unlock()
                if isStopped { return }
                for reloader in reloaders {
                    switch reloader.reloadIfChanged() {
                    case .reloaded(let context): onEvent(.reloaded(reloader, context))
                    case .refused(let error): onEvent(.refused(reloader, error))
                    case .unchanged, .settling: break
                    }
                }
            }
        }
        thread.name = "tls-file-watcher"
        thread.start()
    }

    /// Stops polling (promptly: the thread is woken).
    public func stop() {
        control.condition.lock()
        control.isStopped = true
        control.condition.signal()
        control.condition.unlock()
    }
}
