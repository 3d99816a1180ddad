import Foundation
import TLS

extension Configuration.Variable {
    public static let tlsCertificate = "TESSERA_TLS_CERT"
    public static let tlsKey = "TESSERA_TLS_KEY"
    public static let tlsClientCA = "TESSERA_TLS_CLIENT_CA"
    public static let mtlsListen = "TESSERA_MTLS_LISTEN"
}

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

        /// Reads the settings through `value` (a variable's value when set) and loads the files.
        static func load(_ value: (String) -> String?) throws(ConfigurationError) -> TLSSettings {
            var settings = TLSSettings()
            settings.certificateFile = value(Variable.tlsCertificate)
            settings.keyFile = value(Variable.tlsKey)
            settings.clientCAFile = value(Variable.tlsClientCA)
            if let text = value(Variable.mtlsListen) {
                do { settings.mtlsListen = try ListenAddress(parsing: text) } catch {
                    throw ConfigurationError(setting: Variable.mtlsListen, message: "\(error.reason) (got \"\(text)\")")
                }
            }
            try settings.prepare()
            return settings
        }

        /// Checks the combination and loads the files into reloaders.
        public mutating func prepare() throws(ConfigurationError) {
            switch (certificateFile, keyFile) {
            case (nil, nil):
                if mtlsListen != nil {
                    throw ConfigurationError(setting: Variable.mtlsListen, message: "needs \(Variable.tlsCertificate) and \(Variable.tlsKey) (the mTLS listener serves https)")
                }
                if additionalHTTPSListen != nil {
                    throw ConfigurationError(setting: Variable.tlsCertificate, message: "is needed for an https listener")
                }
                return
            case (.some, nil):
                throw ConfigurationError(setting: Variable.tlsKey, message: "must be set with \(Variable.tlsCertificate) (the certificate's private key)")
            case (nil, .some):
                throw ConfigurationError(setting: Variable.tlsCertificate, message: "must be set with \(Variable.tlsKey) (the key's certificate chain)")
            case (.some(let certificate), .some(let key)):
                if mtlsListen != nil && clientCAFile == nil {
                    throw ConfigurationError(setting: Variable.tlsClientCA, message: "must name the CA bundle client certificates chain to, for \(Variable.mtlsListen)")
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
            case .certificate: Variable.tlsCertificate
            case .privateKey: Variable.tlsKey
            case .clientCA: Variable.tlsClientCA
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
}
