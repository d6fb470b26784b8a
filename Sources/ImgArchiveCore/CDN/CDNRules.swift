import Yams

/// An ordered list of CDN rules and the engine that applies them.
public struct CDNRules: Sendable {
    /// How many proxy layers `resolve` peels off; a deeper proxy URL is taken as the origin as written.
    public static let maxUnwrapDepth = 3

    /// The rules from docs/cdn-rules.md, compiled once.
    public static let builtIn = CDNRules(rules: CDNRule.builtIn)

    private let compiled: [CompiledRule]
    /// Positions of the rules without a host list.
    private let anyHost: [Int]
    /// Positions of the rules by exact host name.
    private let byHost: [String: [Int]]
    /// Positions of the rules by `*.domain` domain.
    private let byDomain: [String: [Int]]

    /// The rules in the order they are tried.
    public var rules: [CDNRule] { compiled.map(\.rule) }

    /// Compiles `rules`; a rule that does not compile is left out (use `validate(_:)` or `decodeRules(yaml:)` to
    /// learn why first).
    public init(rules: [CDNRule]) {
        self.init(compiled: rules.compactMap { try? CompiledRule($0) })
    }

    private init(compiled: [CompiledRule]) {
        self.compiled = compiled
        var anyHost: [Int] = []
        var byHost: [String: [Int]] = [:]
        var byDomain: [String: [Int]] = [:]
        for (index, rule) in compiled.enumerated() {
            if rule.isAnyHost { anyHost.append(index) }
            for host in rule.exactHosts { byHost[host, default: []].append(index) }
            for domain in rule.wildcardDomains { byDomain[domain, default: []].append(index) }
        }
        self.anyHost = anyHost
        self.byHost = byHost
        self.byDomain = byDomain
    }

    /// Positions of the rules whose host list admits `host`, in table order.
    private func candidates(for host: String) -> [Int] {
        var found = anyHost
        if let exact = byHost[host] { found += exact }
        var domain = Substring(host)
        while true {
            if let rules = byDomain[String(domain)] { found += rules }
            guard let dot = domain.utf8.firstIndex(of: UInt8(ascii: ".")) else { break }
            domain = domain[domain.utf8.index(after: dot)...]
        }
        found.sort()
        return found
    }

    /// User rules are tried before the built-in ones.
    public func adding(userRules: [CDNRule]) -> CDNRules {
        CDNRules(compiled: CDNRules(rules: userRules).compiled + compiled)
    }

    /// Checks that every rule compiles; the error names the rule's index and field.
    public static func validate(_ rules: [CDNRule]) throws(CDNRuleError) {
        for (index, rule) in rules.enumerated() {
            do throws(CDNRuleError) {
                _ = try CompiledRule(rule)
            } catch {
                var located = error
                located.ruleIndex = index
                throw located
            }
        }
    }

    /// Decodes and validates the rules of a config file: the list under a top-level `cdn-rules:` key (other keys
    /// are ignored), or a bare YAML list. Errors name the rule index and field.
    public static func decodeRules(yaml: String) throws(CDNRuleError) -> [CDNRule] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw CDNRuleError(code: .invalidYAML, underlying: "\(error)")
        }
        let list: Node
        switch root {
        case nil:
            return []
        case .some(.mapping(let mapping)):
            guard let value = mapping["cdn-rules"] else { return [] }
            if case .scalar(let scalar) = value,
                scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null"
            {
                return []
            }
            list = value
        case .some(let node):
            list = node
        }
        guard case .sequence(let sequence) = list else {
            throw CDNRuleError(code: .invalidField, field: "cdn-rules", underlying: "expected a list of rules")
        }
        var rules: [CDNRule] = []
        let decoder = YAMLDecoder()
        for (index, node) in sequence.enumerated() {
            do {
                rules.append(try decoder.decode(CDNRule.self, from: node))
            } catch let error as DecodingError {
                let (field, cause) = describe(error)
                let name = node.mapping?["name"]?.string
                throw CDNRuleError(
                    code: .invalidField, ruleIndex: index, ruleName: name, field: field, underlying: cause)
            } catch {
                throw CDNRuleError(code: .invalidField, ruleIndex: index, underlying: "\(error)")
            }
        }
        try validate(rules)
        return rules
    }

    /// Works out the original asset's URL and the size `url` asks the CDN for.
    public func resolve(_ url: String) -> CDNResolution {
        resolve(url, depth: 0)
    }

    private func resolve(_ url: String, depth: Int) -> CDNResolution {
        guard let parts = CDNURL(url) else { return CDNResolution(origin: url) }
        var previous = -1
        for index in candidates(for: parts.host) where index != previous {
            previous = index
            let rule = compiled[index]
            guard rule.admitsByRegex(host: parts.host) else { continue }
            guard let outcome = rule.apply(url, parts) else { continue }
            let here = CDNResolution(
                origin: outcome.origin, width: outcome.width, height: outcome.height, mode: outcome.mode,
                rule: rule.rule.name)
            guard rule.rule.unwrap else { return here }
            // A proxy: the inner URL must itself be absolute http(s), else the rule does not apply.
            guard CDNURL(outcome.origin) != nil else { continue }
            // Past the depth limit the proxy URL itself is the origin (still fetchable), with its size.
            guard depth < Self.maxUnwrapDepth else {
                var asWritten = here
                asWritten.origin = url
                return asWritten
            }
            let inner = resolve(outcome.origin, depth: depth + 1)
            var result = here
            result.origin = inner.origin
            if let innerRule = inner.rule { result.rule = "\(rule.rule.name)>\(innerRule)" }
            // The size comes from the outermost layer that gives a width (else one that gives a height).
            if here.width == nil && (inner.width != nil || here.height == nil) {
                result.width = inner.width
                result.height = inner.height
                result.mode = inner.mode
            }
            return result
        }
        return CDNResolution(origin: url)
    }

    /// The key path (`find[1]`) and cause of a decoding error.
    private static func describe(_ error: DecodingError) -> (field: String?, cause: String) {
        let context: DecodingError.Context?
        var cause: String
        switch error {
        case .keyNotFound(let key, let ctx):
            context = ctx
            cause = "missing key '\(key.stringValue)'"
            return (key.stringValue, cause)
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
            context = ctx
            cause = ctx.debugDescription
        @unknown default:
            context = nil
            cause = "\(error)"
        }
        let path = context?.codingPath ?? []
        guard !path.isEmpty else { return (nil, cause) }
        var field = ""
        for key in path {
            if let index = key.intValue {
                field += "[\(index)]"
            } else {
                field += field.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        if cause.isEmpty { cause = "invalid value" }
        return (field, cause)
    }
}
