/// Why a CDN rule (from the config file or built in Swift) cannot be used.
public struct CDNRuleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong; extensible.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        /// Creates a code from its name.
        public init(rawValue: String) { self.rawValue = rawValue }
        /// The text is not YAML.
        public static let invalidYAML = Code(rawValue: "invalidYAML")
        /// A rule lacks a required key, or a key has the wrong type or an unknown value.
        public static let invalidField = Code(rawValue: "invalidField")
        /// A regular expression does not compile.
        public static let invalidRegex = Code(rawValue: "invalidRegex")
        /// An origin template is malformed or names a capture the pattern does not have.
        public static let invalidTemplate = Code(rawValue: "invalidTemplate")
        /// The keys contradict each other (an `unwrap` rule with neither an `origin` template nor capture).
        public static let invalidRule = Code(rawValue: "invalidRule")
        /// The code's name.
        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// Zero-based position of the rule in the list it came from (nil when not known).
    public var ruleIndex: Int?
    /// The rule's name, when it was decoded far enough to have one.
    public var ruleName: String?
    /// The offending key (`pattern`, `find[1]`, `origin`, …), when known.
    public var field: String?
    /// The underlying cause as reported by Yams, the decoder or the regex compiler.
    public var underlying: String?

    /// Creates an error.
    public init(
        code: Code, ruleIndex: Int? = nil, ruleName: String? = nil, field: String? = nil, underlying: String? = nil
    ) {
        self.code = code
        self.ruleIndex = ruleIndex
        self.ruleName = ruleName
        self.field = field
        self.underlying = underlying
    }

    /// One line naming the rule, the field and the cause.
    public var description: String {
        var text = "CDN rule error \(code)"
        if let ruleIndex { text += " in cdn-rules[\(ruleIndex)]" }
        if let ruleName { text += " (\(ruleName))" }
        if let field { text += ", field '\(field)'" }
        if let underlying { text += ": \(underlying)" }
        return text
    }
}
