import Foundation

extension Configuration {
    /// One setting, declared once: its environment variable, its flag, its default, how its
    /// value is read and checked, what it means, and where it is listed.
    ///
    /// ``Configuration/load(environment:arguments:)``, the `--help` of `tessera serve` and
    /// `tessera dev`, and the README's settings table all come from ``Configuration/settings``.
    public struct Setting: Sendable {
        /// The environment variable (`TESSERA_LISTEN`); configuration errors name the setting by it.
        public let variable: String
        /// The command-line flag without its dashes: the variable without `TESSERA_`, in lower
        /// case, `_` as `-` (`TESSERA_DB_POOL_SIZE` is `--db-pool-size`).
        public var flag: String {
            let name = variable.hasPrefix(Self.prefix) ? variable.dropFirst(Self.prefix.count) : Substring(variable)
            return name.lowercased().replacingOccurrences(of: "_", with: "-")
        }

        /// What every variable starts with.
        static let prefix = "TESSERA_"
        /// The value used when neither the flag nor the variable is given.
        public let defaultValue: Default
        /// A valid value other than the default, shown in `--help` and the README.
        public let example: String
        /// The heading it is listed under.
        public let group: Group
        /// What it does, in one line (Markdown: `code` in backquotes).
        public let summary: String
        /// What a value looks like (`duration`, `host:port`).
        public let valueName: String
        /// The values accepted, in words (`1s to 10m`); nil when any text is.
        public let accepts: String?
        /// The property of ``Configuration`` it sets.
        let keyPath: PartialKeyPath<Configuration> & Sendable
        /// Parses a value and stores it; the error's reason is the message after the variable's name.
        let apply: @Sendable (String, inout Configuration) throws(ValueError) -> Void

        /// A setting of a property whose every value the parser produces.
        public init<Value>(_ variable: String, _ keyPath: WritableKeyPath<Configuration, Value> & Sendable,
                           _ value: SettingValue<Value>, default defaultValue: Default, example: String, group: Group, _ summary: String) {
            self.init(variable, keyPath, value.valueName, value.accepts, defaultValue, example, group, summary) { text, configuration throws(ValueError) in
                configuration[keyPath: keyPath] = try value.parse(text)
            }
        }

        /// A setting of an optional property: nil until a value is given.
        public init<Value>(_ variable: String, _ keyPath: WritableKeyPath<Configuration, Value?> & Sendable,
                           _ value: SettingValue<Value>, default defaultValue: Default, example: String, group: Group, _ summary: String) {
            self.init(variable, keyPath, value.valueName, value.accepts, defaultValue, example, group, summary) { text, configuration throws(ValueError) in
                configuration[keyPath: keyPath] = try value.parse(text)
            }
        }

        private init(_ variable: String, _ keyPath: PartialKeyPath<Configuration> & Sendable, _ valueName: String, _ accepts: String?,
                     _ defaultValue: Default, _ example: String, _ group: Group, _ summary: String,
                     apply: @escaping @Sendable (String, inout Configuration) throws(ValueError) -> Void) {
            self.variable = variable
            self.keyPath = keyPath
            self.valueName = valueName
            self.accepts = accepts
            self.defaultValue = defaultValue
            self.example = example
            self.group = group
            self.summary = summary
            self.apply = apply
        }

        /// What a setting is when it is given neither as a flag nor as a variable.
        public enum Default: Sendable {
            /// This text, read and checked like a given value.
            case value(String)
            /// The property stays unset (nil, empty); the text says what that means (Markdown).
            case unset(String)
            /// Text computed from the other settings once every one given or with a `.value` default has
            /// its value; the first text says how (Markdown).
            case derived(String, @Sendable (Configuration) -> String)

            /// The default as documentation shows it (Markdown).
            public var documentation: String {
                switch self {
                case .value(let text): "`\(text)`"
                case .unset(let meaning), .derived(let meaning, _): meaning
                }
            }
        }

        /// A heading settings are listed under, in the order of its first setting in ``Configuration/settings``.
        public struct Group: Sendable, Hashable {
            public let title: String
            public init(_ title: String) { self.title = title }

            public static let server = Group("Server")
            public static let keys = Group("Keys")
            public static let tokens = Group("Tokens and sessions")
            public static let rateLimits = Group("Rate limits")
            public static let database = Group("Database")
            public static let passwordHashing = Group("Password hashing")
        }
    }

    /// A rule between settings, run in order once every setting has its value.
    public struct SettingCheck: Sendable {
        let run: @Sendable (inout Configuration) throws(ConfigurationError) -> Void

        /// A rule that, when broken, is reported against the setting of `keyPath`: `problem` says why
        /// (the message after the variable's name), or returns nil.
        public init<Value>(_ keyPath: KeyPath<Configuration, Value> & Sendable, problem: @escaping @Sendable (Configuration) -> String?) {
            run = { configuration throws(ConfigurationError) in
                if let message = problem(configuration) { throw ConfigurationError(keyPath, message: message) }
            }
        }

        /// A step that may also complete the configuration from its settings (such as reading the files
        /// they name) and reports against whichever setting is at fault.
        public init(_ run: @escaping @Sendable (inout Configuration) throws(ConfigurationError) -> Void) {
            self.run = run
        }
    }

    /// The setting that sets `keyPath`, if any.
    public static func setting(_ keyPath: PartialKeyPath<Configuration>) -> Setting? {
        settings.first { $0.keyPath == keyPath }
    }

    /// The setting whose flag is `--flag`, if any.
    public static func setting(flag: String) -> Setting? {
        settings.first { $0.flag == flag }
    }

    /// The environment variable of the setting that sets `keyPath`: how errors and messages name it.
    public static func variable(_ keyPath: PartialKeyPath<Configuration>) -> String {
        setting(keyPath)?.variable ?? String(describing: keyPath)
    }
}

extension ConfigurationError {
    /// An unusable value of the setting that sets `keyPath`.
    public init(_ keyPath: PartialKeyPath<Configuration>, message: String) {
        self.init(setting: Configuration.variable(keyPath), message: message)
    }
}
