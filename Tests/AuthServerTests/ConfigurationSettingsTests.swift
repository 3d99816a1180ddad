import Foundation
import Testing
@testable import AuthServer

/// The settings table (Configuration+Settings.swift and each concern's `Configuration+*.swift`):
/// every setting declared once, and parsing, `--help` and the README coming from there.
@Suite struct ConfigurationSettingsTests {
    @Test("Every setting has its own variable, flag and property; the flag is the variable without TESSERA_, in lower case")
    func settingsAreDistinct() {
        let settings = Configuration.settings
        #expect(Set(settings.map(\.variable)).count == settings.count)
        #expect(Set(settings.map(\.flag)).count == settings.count)
        #expect(Set(settings.map(\.keyPath)).count == settings.count)
        for setting in settings {
            #expect(setting.variable.hasPrefix("TESSERA_"), "\(setting.variable)")
            #expect(setting.flag.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(setting.flag)")
            #expect(!setting.summary.isEmpty && !setting.summary.contains("\n"), "\(setting.variable)")
        }
        #expect(Configuration.setting(flag: "db-pool-size")?.variable == "TESSERA_DB_POOL_SIZE")
    }

    /// The table without the rules between settings: an example is valid on its own, but may need
    /// others (a TLS key needs its certificate) to pass them.
    private func load(_ environment: [String: String], _ arguments: [String] = []) throws -> Configuration {
        try Configuration.load(environment: environment, arguments: arguments, settings: Configuration.settings, checks: [])
    }

    @Test("Each setting's example is valid, changes the configuration, and reads the same from its flag as from its variable",
          arguments: Configuration.settings.map(\.variable))
    func everySettingIsWired(variable: String) throws {
        let setting = try #require(Configuration.settings.first { $0.variable == variable })
        let fromVariable = try load([variable: setting.example])
        #expect(fromVariable != (try load([:])), "the example \(setting.example) of \(variable) changes nothing")
        #expect(try load([:], ["--\(setting.flag)", setting.example]) == fromVariable)
        #expect(try load([:], ["--\(setting.flag)=\(setting.example)"]) == fromVariable)
    }

    @Test("A flag wins over its variable, even one that would not parse, for every setting", arguments: Configuration.settings.map(\.variable))
    func flagWinsOverVariable(variable: String) throws {
        let setting = try #require(Configuration.settings.first { $0.variable == variable })
        #expect(try load([variable: "\u{1}not a value"], ["--\(setting.flag)", setting.example]) == (try load([variable: setting.example])))
        if case .value(let fallback) = setting.defaultValue {
            // The default given as a flag undoes the variable.
            #expect(try load([variable: setting.example], ["--\(setting.flag)", fallback]) == (try load([:])))
        }
    }

    @Test("Every default is a valid value, and what the configuration holds when nothing is given")
    func defaultsParse() throws {
        var environment: [String: String] = [:]
        for setting in Configuration.settings {
            if case .value(let text) = setting.defaultValue { environment[setting.variable] = text }
        }
        #expect(try Configuration.load(environment: environment) == Configuration.load(environment: [:]))
    }

    @Test("A bad flag value fails like a bad variable: one line naming the setting's variable")
    func badFlagValuesNameTheVariable() {
        for (arguments, variable) in [(["--code-ttl", "11m"], "TESSERA_CODE_TTL"), (["--db-pool-size=0"], "TESSERA_DB_POOL_SIZE"),
                                      (["--rate-limit-token", "-1"], "TESSERA_RATE_LIMIT_TOKEN"),
                                      (["--argon2-parallelism", "0"], "TESSERA_ARGON2_MEMORY_KIB"),
                                      (["--key-rotation-period", "1m"], "TESSERA_KEY_ROTATION_PERIOD"),
                                      (["--max-connections-per-source", "many"], "TESSERA_MAX_CONNECTIONS_PER_SOURCE")] {
            #expect {
                try Configuration.load(environment: [:], arguments: arguments)
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.setting == variable && error.description.hasPrefix("configuration error: \(variable) ")
                    && !error.description.contains("\n")
            }
        }
    }

    @Test("Settings are read in table order: the issuer's default follows the listen flag")
    func derivedDefaultFollowsFlags() throws {
        let configuration = try Configuration.load(environment: ["TESSERA_LISTEN": "127.0.0.1:1"], arguments: ["--listen", "[::1]:7000"])
        #expect(configuration.issuer.url == "http://[::1]:7000")
    }

    @Test("A derived default sees every setting given or with a default, wherever it is listed")
    func derivedDefaultsComeLast() throws {
        let settings: [Configuration.Setting] = [
            .init("TESSERA_ISSUER", \.issuer, .issuer, default: .derived("from the log level") { "https://\($0.logLevel.rawValue).example" },
                  example: "https://id.example", group: .server, "the issuer"),
            .init("TESSERA_LOG_LEVEL", \.logLevel, .logLevel, default: .value("warning"), example: "debug", group: .server, "the level"),
        ]
        let derived = try Configuration.load(environment: [:], arguments: [], settings: settings, checks: [])
        #expect(derived.issuer.url == "https://warning.example")
        let flagged = try Configuration.load(environment: [:], arguments: ["--log-level", "error"], settings: settings, checks: [])
        #expect(flagged.issuer.url == "https://error.example")
        let given = try Configuration.load(environment: ["TESSERA_ISSUER": "https://id.example"], arguments: [], settings: settings, checks: [])
        #expect(given.issuer.url == "https://id.example")
    }

    @Test("Checks run in order after every setting: a step may complete the configuration, a broken rule names its setting")
    func checksRunLast() throws {
        let settings = Configuration.settings
        let complete = Configuration.SettingCheck { configuration throws(ConfigurationError) in
            configuration.kekFile = configuration.keysDirectory + "/derived-kek"
        }
        let configuration = try Configuration.load(environment: [:], arguments: ["--keys-dir", "/k"], settings: settings, checks: [complete])
        #expect(configuration.kekPath == "/k/derived-kek")
        let rule = Configuration.SettingCheck(\.logLevel) { $0.logLevel == .debug ? "must not be debug here" : nil }
        #expect(throws: ConfigurationError(setting: "TESSERA_LOG_LEVEL", message: "must not be debug here")) {
            try Configuration.load(environment: ["TESSERA_LOG_LEVEL": "debug"], arguments: [], settings: settings, checks: [complete, rule])
        }
        #expect(Configuration.variable(\.database.poolSize) == "TESSERA_DB_POOL_SIZE")
    }

    @Test("Flags: --flag VALUE and --flag=VALUE, values may start with one dash or be empty, and the last of a repeated flag wins")
    func flagSyntax() throws {
        #expect(try Configuration.flagValues(["--listen", "[::1]:1", "--log-level=debug", "--rate-limit-token", "-1", "--kek-file="])
            == ["listen": "[::1]:1", "log-level": "debug", "rate-limit-token": "-1", "kek-file": ""])
        #expect(try Configuration.flagValues(["--listen", "127.0.0.1:1", "--listen=127.0.0.1:2"]) == ["listen": "127.0.0.1:2"])
        #expect(try Configuration.flagValues([]).isEmpty)
    }

    @Test("An unknown flag, a flag without its value, and a stray word are refused, naming the argument")
    func flagErrors() {
        for (arguments, argument) in [(["--no-such-setting", "1"], "--no-such-setting"), (["--listen"], "--listen"),
                                      (["--listen", "--log-level", "info"], "--listen"), (["listen"], "listen"), (["-l", "x"], "-l"),
                                      (["--"], "--"), (["--LISTEN", "127.0.0.1:1"], "--LISTEN")] {
            #expect {
                try Configuration.flagValues(arguments)
            } throws: { error in
                (error as? Configuration.FlagError)?.argument == argument
            }
            #expect(throws: ConfigurationError.self) { try Configuration.load(environment: [:], arguments: arguments) }
        }
    }

    @Test("--help lists every setting: its flag, its variable, its default and its example")
    func helpListsEverySetting() {
        let help = Configuration.settingsHelp()
        for setting in Configuration.settings {
            #expect(help.contains("--\(setting.flag) <\(setting.valueName)>"), "\(setting.flag)")
            #expect(help.contains("Variable \(setting.variable);"), "\(setting.variable)")
        }
        for group in Configuration.settingsByGroup { #expect(help.contains(group.group.title.uppercased() + ":")) }
        #expect(help.split(separator: "\n").allSatisfy { $0.count <= 70 })
    }

    @Test("README.md's settings tables are exactly what `tessera config --markdown` prints")
    func readmeTableIsGenerated() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let begin = "<!-- settings: begin -->", end = "<!-- settings: end -->"
        let start = try #require(readme.range(of: begin), "README.md has no \(begin) marker")
        let stop = try #require(readme.range(of: end, range: start.upperBound..<readme.endIndex), "README.md has no \(end) marker")
        let table = readme[start.upperBound..<stop.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(table == Configuration.settingsMarkdown().trimmingCharacters(in: .whitespacesAndNewlines),
                "README.md's settings differ from the table: run `tessera config --markdown` and put its output between the markers")
        for setting in Configuration.settings {
            #expect(table.contains("| `\(setting.variable)` | `--\(setting.flag)` |"), "\(setting.variable)")
        }
    }

    @Test("Durations show in their largest whole unit, 24h rather than 1d")
    func durationText() {
        #expect(DurationText.text(seconds: 0) == "0s")
        #expect(DurationText.text(seconds: 90) == "90s")
        #expect(DurationText.text(seconds: 5_400) == "90m")
        #expect(DurationText.text(seconds: 86_400) == "24h")
        #expect(DurationText.text(seconds: 2 * 86_400) == "2d")
        #expect(DurationText.text(.milliseconds(100)) == "100ms")
        #expect(DurationText.text(.seconds(600)) == "600s")
        #expect(DurationText.duration("1500ms") == .milliseconds(1_500))
        #expect(DurationText.duration("2m") == .seconds(120))
        #expect(DurationText.duration("ms") == nil)
    }
}
