import HTTPServer
import Testing
@testable import AuthServer

/// The HTTP server's settings (Configuration+HTTP.swift).
@Suite struct ConfigurationHTTPTests {
    @Test("By default a source may hold 256 connections, and there is one event loop per available processor")
    func defaults() throws {
        let configuration = try Configuration.load(environment: [:])
        #expect(configuration.http.maxConnectionsPerSource == 256)
        #expect(configuration.http.eventLoops == nil)
        var server = HTTPServerConfiguration()
        configuration.http.apply(to: &server)
        #expect(server.limits.maxConnectionsPerSource == 256)
        #expect(server.eventLoopThreads == HTTPServerConfiguration.availableProcessors)
        #expect(server.eventLoopThreads >= 1)
    }

    @Test("TESSERA_EVENT_LOOPS sets the number of event-loop threads")
    func eventLoops() throws {
        for count in [1, 3, 256] {
            let configuration = try Configuration.load(environment: ["TESSERA_EVENT_LOOPS": "\(count)"])
            var server = HTTPServerConfiguration()
            configuration.http.apply(to: &server)
            #expect(server.eventLoopThreads == count)
        }
    }

    @Test("A bad event-loop count fails naming its setting", arguments: ["0", "257", "-1", "two", "1.5", "0x2", "1000"])
    func badEventLoops(_ text: String) {
        #expect {
            try Configuration.load(environment: ["TESSERA_EVENT_LOOPS": text])
        } throws: { error in
            (error as? ConfigurationError)?.setting == "TESSERA_EVENT_LOOPS"
        }
    }

    @Test("TESSERA_MAX_CONNECTIONS_PER_SOURCE sets the per-source connection cap; 0 turns it off")
    func perSourceCap() throws {
        for (text, expected) in [("1000", 1000), ("0", 0), ("1", 1)] {
            let configuration = try Configuration.load(environment: ["TESSERA_MAX_CONNECTIONS_PER_SOURCE": text])
            var server = HTTPServerConfiguration()
            configuration.http.apply(to: &server)
            #expect(server.limits.maxConnectionsPerSource == expected)
        }
    }

    @Test("A bad per-source cap fails naming its setting", arguments: ["-1", "many", "1e3", "12345678", " 5"])
    func badPerSourceCap(_ text: String) {
        #expect {
            try Configuration.load(environment: ["TESSERA_MAX_CONNECTIONS_PER_SOURCE": text])
        } throws: { error in
            (error as? ConfigurationError)?.setting == "TESSERA_MAX_CONNECTIONS_PER_SOURCE"
        }
    }
}
