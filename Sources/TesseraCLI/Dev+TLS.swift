import AuthServer
import Foundation
import TLS

extension Dev {
    /// Unless TLS is configured already, serves https and mTLS beside the http listener with certificates of
    /// a development CA kept under the data folder (made on first use, renewed near their end).
    func configureDevelopmentTLS(_ configuration: inout Configuration, say: (String) -> Void) -> DevelopmentCertificates.Paths? {
        guard !configuration.tls.isEnabled else { return nil }
        func address(_ text: String, _ flag: String) -> ListenAddress? {
            guard text != "off" else { return nil }
            do { return try ListenAddress(parsing: text) } catch { fail("--\(flag): \(error.reason) (got \"\(text)\"), or off", code: 2) }
        }
        let https = address(httpsListen, "dev-https-listen")
        let mutual = address(mtlsListen, "dev-mtls-listen")
        guard https != nil || mutual != nil else { return nil }
        let paths: DevelopmentCertificates.Paths
        do {
            paths = try DevelopmentCertificates.prepare(directory: dataDirectory + "/tls")
        } catch {
            fail("development certificates: \(error)")
        }
        var tls = Configuration.TLSSettings()
        tls.certificateFile = paths.serverCertificate
        tls.keyFile = paths.serverKey
        tls.clientCAFile = paths.caCertificate
        tls.mainListenerServesHTTPS = false
        tls.additionalHTTPSListen = https
        tls.mtlsListen = mutual
        do {
            try tls.prepare()
        } catch {
            fail(error.description)
        }
        configuration.tls = tls
        return paths
    }

    func sayTLS(_ paths: DevelopmentCertificates.Paths, configuration: Configuration, server: TesseraServer, say: (String) -> Void) {
        say("development CA: \(paths.caCertificate) (trust it only for development)")
        if let listen = configuration.tls.additionalHTTPSListen, let port = server.httpsPort {
            let base = "https://\(listen.urlAuthority(port: port))"
            say("serving https on \(base)")
            say("try:  curl --cacert \(paths.caCertificate) \(base)/readyz")
        }
        if let listen = configuration.tls.mtlsListen, let port = server.mtlsPort {
            let base = "https://\(listen.urlAuthority(port: port))"
            say("serving mTLS (client certificates of the development CA) on \(base)")
            say("the demo workload certificate (\(DevelopmentCertificates.workloadSPIFFEID)):  curl --cacert \(paths.caCertificate) "
                + "--cert \(paths.workloadCertificate) --key \(paths.workloadKey) \(base)/readyz")
        }
    }
}
