import Foundation
import TLS

extension Configuration {
    /// TLS of the listeners: the server certificate and key, and for client certificates a CA bundle and a
    /// second listener that asks for them (RFC 8705 §5: the main listener never prompts a browser).
    ///
    /// Loading reads and checks the files, so a missing file, a key that does not match its certificate or
    /// an expired certificate stops the server at start with one line naming the setting. The reloaders made
    /// here are the ones the listeners serve from: they watch the same files.
    public struct TLSSettings: Sendable, Equatable {
        /// PEM chain, leaf first.
        public var certificateFile: String?
        /// PEM private key (unencrypted; mount it as a secret).
        public var keyFile: String?
        /// PEM CA bundle client certificates must chain to.
        public var clientCAFile: String?
        /// The listener that asks for client certificates.
        public var mtlsListen: ListenAddress?
        /// Whether the main listener serves https when a certificate is configured (`tessera dev` keeps it
        /// plain and serves https on `additionalHTTPSListen` beside it).
        public var mainListenerServesHTTPS = true
        /// An https listener in addition to the main listener.
        public var additionalHTTPSListen: ListenAddress?

        /// The contexts of the https listener and of the mTLS listener, made from the files at load.
        public private(set) var server: TLSReloader?
        public private(set) var mutual: TLSReloader?

        public init() {}

        /// Whether a certificate is configured (and loaded).
        public var isEnabled: Bool { server != nil }

        /// Whether the main listener serves https.
        public var isMainListenerHTTPS: Bool { isEnabled && mainListenerServesHTTPS }

        public static func == (lhs: TLSSettings, rhs: TLSSettings) -> Bool {
            lhs.certificateFile == rhs.certificateFile && lhs.keyFile == rhs.keyFile && lhs.clientCAFile == rhs.clientCAFile
                && lhs.mtlsListen == rhs.mtlsListen && lhs.additionalHTTPSListen == rhs.additionalHTTPSListen
                && lhs.mainListenerServesHTTPS == rhs.mainListenerServesHTTPS
        }

        /// Checks the combination and loads the files into reloaders.
        public mutating func prepare() throws(ConfigurationError) {
            switch (certificateFile, keyFile) {
            case (nil, nil):
                if mtlsListen != nil {
                    throw ConfigurationError(setting: "TESSERA_MTLS_LISTEN", message: "needs TESSERA_TLS_CERT and TESSERA_TLS_KEY (the mTLS listener serves https)")
                }
                if additionalHTTPSListen != nil {
                    throw ConfigurationError(setting: "TESSERA_TLS_CERT", message: "is needed for an https listener")
                }
                return
            case (.some, nil):
                throw ConfigurationError(setting: "TESSERA_TLS_KEY", message: "must be set with TESSERA_TLS_CERT (the certificate's private key)")
            case (nil, .some):
                throw ConfigurationError(setting: "TESSERA_TLS_CERT", message: "must be set with TESSERA_TLS_KEY (the key's certificate chain)")
            case (.some(let certificate), .some(let key)):
                if mtlsListen != nil && clientCAFile == nil {
                    throw ConfigurationError(setting: "TESSERA_TLS_CLIENT_CA", message: "must name the CA bundle client certificates chain to, for TESSERA_MTLS_LISTEN")
                }
                let files = TLSFiles(certificates: [.init(certificate: certificate, key: key)])
                do {
                    server = try TLSReloader(files: files)
                    if mtlsListen != nil {
                        mutual = try TLSReloader(files: TLSFiles(certificates: files.certificates, clientCA: clientCAFile))
                    } else if let clientCAFile {
                        // Not served, but checked: a CA bundle that is set must be usable.
                        _ = try CertificateTrustStore.load(file: clientCAFile)
                    }
                } catch {
                    throw ConfigurationError(setting: Self.variable(for: error.input), message: error.description)
                }
            }
        }

        /// The setting that names a TLS input.
        public static func variable(for input: TLSConfigurationError.Input) -> String {
            switch input {
            case .certificate: "TESSERA_TLS_CERT"
            case .privateKey: "TESSERA_TLS_KEY"
            case .clientCA: "TESSERA_TLS_CLIENT_CA"
            }
        }

        /// The base URL of the mTLS listener's endpoints: the issuer's scheme changed to https and its port
        /// to the mTLS listener's (RFC 8705 §5 `mtls_endpoint_aliases`).
        public func mtlsBaseURL(issuer: Issuer, port: UInt16? = nil) -> String? {
            guard let mtlsListen else { return nil }
            let text = issuer.url
            guard let schemeEnd = text.range(of: "://") else { return nil }
            let rest = text[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" }
            let path = rest.dropFirst(authority.count)
            var host = Substring(authority)
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                host = host[...close]
            } else if let colon = host.lastIndex(of: ":") {
                host = host[..<colon]
            }
            let effectivePort = port ?? mtlsListen.port
            return "https://\(host)" + (effectivePort == 443 ? "" : ":\(effectivePort)") + path
        }
    }

    /// The TLS settings; the files they name are read and checked by ``tlsSettingChecks``.
    static let tlsSettings: [Setting] = [
        Setting("TESSERA_TLS_CERT", \.tls.certificateFile, .path, default: .unset("unset: plain http"),
                example: "/run/secrets/tls/tls.crt", group: .tls,
                "PEM certificate chain (leaf first) of the https listener; with it the main listener serves https and the default "
                    + "issuer is `https://`. Replaced files are reloaded without a restart"),
        Setting("TESSERA_TLS_KEY", \.tls.keyFile, .path, default: .unset("unset"), example: "/run/secrets/tls/tls.key", group: .tls,
                "the certificate's PEM private key (unencrypted; mount it as a secret)"),
        Setting("TESSERA_TLS_CLIENT_CA", \.tls.clientCAFile, .path, default: .unset("unset"),
                example: "/run/secrets/tls/clients-ca.pem", group: .tls,
                "PEM bundle of the CAs that client certificates must chain to"),
        Setting("TESSERA_MTLS_LISTEN", \.tls.mtlsListen, .listenAddress, default: .unset("none"), example: "0.0.0.0:8444",
                group: .tls,
                "a second https listener that asks for client certificates (RFC 8705 §5; the main listener never does), published "
                    + "as `mtls_endpoint_aliases`; needs the three settings above"),
    ]

    /// Reads and checks the certificate, key and CA files, and makes the listeners' reloaders from them.
    static let tlsSettingChecks: [SettingCheck] = [
        SettingCheck { configuration throws(ConfigurationError) in try configuration.tls.prepare() },
    ]
}

extension Configuration.Setting.Group {
    public static let tls = Configuration.Setting.Group("TLS")
}
