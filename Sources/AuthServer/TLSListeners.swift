import Foundation
import HTTPServer
import Synchronization
import TLS

/// The TLS side of the listeners: the https listener's and the mTLS listener's contexts, the watcher
/// that reloads them when their files change, the mTLS listener itself (and, for `tessera dev`, an https
/// listener beside the plain main one), and their metrics.
final class TLSListeners: Sendable {
    /// How often the certificate, key and CA files are checked for changes (a few `stat` calls).
    static let watchInterval: TimeInterval = 1

    let settings: Configuration.TLSSettings
    let logger: Logger
    private let counters = TLSCounters()
    /// An https listener beside the main listener (`tessera dev`).
    private let additional: HTTPServer?
    private let mutual: HTTPServer?
    private let watcher = Mutex<TLSFileWatcher?>(nil)

    init(settings: Configuration.TLSSettings, responder: any HTTPResponder, logger: Logger, metrics: Metrics,
         log: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.logger = logger
        let counters = self.counters
        if let extra = settings.additionalHTTPSListen, let server = settings.server {
            var configuration = HTTPServerConfiguration(host: extra.host, port: extra.port)
            configuration.tls = HTTPServerTLS(contexts: server) { counters.handshake("https", $0) }
            additional = HTTPServer(configuration: configuration, responder: responder, log: log)
        } else {
            additional = nil
        }
        if let listen = settings.mtlsListen, let reloader = settings.mutual {
            var configuration = HTTPServerConfiguration(host: listen.host, port: listen.port)
            configuration.tls = HTTPServerTLS(contexts: reloader) { counters.handshake("mtls", $0) }
            mutual = HTTPServer(configuration: configuration, responder: responder, log: log)
        } else {
            mutual = nil
        }
        let listeners = self.listeners
        metrics.addGauges { counters.render(listeners: listeners) }
    }

    /// The reloaders by listener name.
    var listeners: [(name: String, reloader: TLSReloader)] {
        var result: [(String, TLSReloader)] = []
        if let server = settings.server { result.append(("https", server)) }
        if let mutual = settings.mutual { result.append(("mtls", mutual)) }
        return result
    }

    /// Makes the main listener serve https, unless https has a listener of its own.
    func configureMain(_ configuration: inout HTTPServerConfiguration) {
        guard settings.mainListenerServesHTTPS, let server = settings.server else { return }
        let counters = self.counters
        configuration.tls = HTTPServerTLS(contexts: server) { counters.handshake("https", $0) }
    }

    func start() throws {
        if let additional, let listen = settings.additionalHTTPSListen {
            try additional.start()
            logger.info("https listening", ["address": listen.urlAuthority(port: additional.localPort)])
        }
        if let mutual, let listen = settings.mtlsListen {
            try mutual.start()
            logger.info("mtls listening", ["address": listen.urlAuthority(port: mutual.localPort)])
        }
        let listeners = self.listeners
        guard !listeners.isEmpty else { return }
        for (name, reloader) in listeners {
            logger.info("TLS certificate", Self.fields(name, reloader.current))
        }
        let logger = self.logger
        let counters = self.counters
        let made = TLSFileWatcher(reloaders: listeners.map(\.reloader), interval: Self.watchInterval) { event in
            switch event {
            case .reloaded(let reloader, let context):
                let name = listeners.first { $0.reloader === reloader }?.name ?? "?"
                counters.reloaded(name, succeeded: true)
                logger.info("TLS certificate reloaded; new connections use it", Self.fields(name, context))
            case .refused(let reloader, let error):
                let name = listeners.first { $0.reloader === reloader }?.name ?? "?"
                counters.reloaded(name, succeeded: false)
                logger.error("TLS certificate reload refused; the previous certificate stays in use",
                             ["listener": name, "setting": Configuration.TLSSettings.variable(for: error.input), "reason": error.description])
            }
        }
        watcher.withLock { $0 = made }
    }

    static func fields(_ name: String, _ context: TLSServerContext) -> KeyValuePairs<String, String> {
        let certificate = context.credentials[0].certificate
        return ["listener": name, "subject": certificate.subject, "not_after": certificate.notAfter.formatted(.iso8601),
                "x5t#S256": certificate.thumbprintSHA256]
    }

    /// The bound port of the mTLS listener (useful with port 0).
    var mutualPort: UInt16? { mutual?.localPort }
    /// The bound port of the additional https listener.
    var additionalPort: UInt16? { additional?.localPort }

    func shutdown(deadline: Duration) async {
        watcher.withLock { $0?.stop() }
        async let first: Void = { await self.additional?.shutdown(deadline: deadline) }()
        async let second: Void = { await self.mutual?.shutdown(deadline: deadline) }()
        _ = await (first, second)
    }
}

/// Handshake and reload counts by listener, and each listener's certificate expiry at scrape time.
final class TLSCounters: Sendable {
    private struct State {
        var handshakes: [String: UInt64] = [:]            // listener|resumed
        var failures: [String: UInt64] = [:]              // listener|reason
        var reloads: [String: UInt64] = [:]               // listener|result
    }

    private let state = Mutex(State())

    func handshake(_ listener: String, _ outcome: TLSHandshakeOutcome) {
        state.withLock { state in
            switch outcome {
            case .completed(let resumed): state.handshakes["\(listener)|\(resumed)", default: 0] += 1
            case .failed(let reason): state.failures["\(listener)|\(reason.rawValue)", default: 0] += 1
            }
        }
    }

    func reloaded(_ listener: String, succeeded: Bool) {
        state.withLock { $0.reloads["\(listener)|\(succeeded ? "success" : "failure")", default: 0] += 1 }
    }

    func render(listeners: [(name: String, reloader: TLSReloader)]) -> String {
        var out = "# HELP tessera_tls_certificate_expiry_seconds Seconds until the served certificate expires, per listener.\n"
            + "# TYPE tessera_tls_certificate_expiry_seconds gauge\n"
        let now = Date()
        for (name, reloader) in listeners {
            out += "tessera_tls_certificate_expiry_seconds{listener=\"\(name)\"} \(Int(reloader.current.certificateExpiry.timeIntervalSince(now)))\n"
        }
        let snapshot = state.withLock { $0 }
        out += "# HELP tessera_tls_handshakes_total Completed TLS handshakes by listener, full or resumed from a ticket.\n"
            + "# TYPE tessera_tls_handshakes_total counter\n"
        for (key, count) in snapshot.handshakes.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|")
            out += "tessera_tls_handshakes_total{listener=\"\(parts[0])\",resumed=\"\(parts[1])\"} \(count)\n"
        }
        out += "# HELP tessera_tls_handshake_failures_total Failed TLS handshakes by listener and reason.\n"
            + "# TYPE tessera_tls_handshake_failures_total counter\n"
        for (key, count) in snapshot.failures.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|")
            out += "tessera_tls_handshake_failures_total{listener=\"\(parts[0])\",reason=\"\(parts[1])\"} \(count)\n"
        }
        out += "# HELP tessera_tls_reloads_total Certificate reloads by listener and result (a failure keeps the previous certificate).\n"
            + "# TYPE tessera_tls_reloads_total counter\n"
        for (key, count) in snapshot.reloads.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|")
            out += "tessera_tls_reloads_total{listener=\"\(parts[0])\",result=\"\(parts[1])\"} \(count)\n"
        }
        return out
    }
}
