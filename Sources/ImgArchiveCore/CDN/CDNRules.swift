internal import Synchronization
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
    /// The `requires` literals of all rules, found in one pass over the URL.
    private let triggers: Triggers
    /// Per rule: how its `requires` prefilter is checked.
    private let gates: [Gate]
    /// Candidate lists (host list and host regex already applied) by host, filled on first use.
    private let hostCache = HostCache()
    /// The most labels a `*.domain` of the table has, and the longest such domain in bytes: longer host suffixes
    /// cannot be in `byDomain`.
    private let domainLabels: Int
    private let domainBytes: Int
    /// Whether `resolve` takes the fast paths: `requires` literals found in one pass, candidate rules cached per
    /// host, regexes skipped when a literal they need is missing, captures read by group number. Off, it runs the
    /// general engine, the reference the fast paths are tested against (same `CDNResolution` for every URL).
    let fastPaths: Bool

    /// The rules in the order they are tried.
    public var rules: [CDNRule] { compiled.map(\.rule) }

    /// Compiles `rules`; a rule that does not compile is left out (use `validate(_:)` or `decodeRules(yaml:)` to
    /// learn why first).
    public init(rules: [CDNRule]) {
        self.init(compiled: rules.compactMap { try? CompiledRule($0) })
    }

    /// The same table with the fast paths on or off (tests compare the two).
    init(rules: [CDNRule], fastPaths: Bool) {
        self.init(compiled: rules.compactMap { try? CompiledRule($0) }, fastPaths: fastPaths)
    }

    private init(compiled: [CompiledRule], fastPaths: Bool = true) {
        self.compiled = compiled
        self.fastPaths = fastPaths
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
        domainLabels = byDomain.keys.map { $0.utf8.count(where: { $0 == UInt8(ascii: ".") }) + 1 }.max() ?? 0
        domainBytes = byDomain.keys.map(\.utf8.count).max() ?? 0
        let triggers = Triggers(compiled.map(\.requires))
        self.triggers = triggers
        gates = compiled.map { rule in
            guard !rule.requires.isEmpty else { return .none }
            return triggers.mask(of: rule.requires).map(Gate.mask) ?? .direct
        }
    }

    /// How a rule's `requires` prefilter is checked.
    private enum Gate: Sendable {
        /// The rule has no prefilter.
        case none
        /// One of these trigger bits must be set.
        case mask(UInt64)
        /// Too many literals for the trigger mask: search the URL.
        case direct
    }

    /// Positions of the rules that admit `host` (host list and host regex), in table order; cached per host.
    private func admitting(host: String) -> [Int] {
        hostCache.list(for: host) {
            var previous = -1
            return candidates(for: host).filter { index in
                defer { previous = index }
                return index != previous && compiled[index].admitsByRegex(host: host, fast: true)
            }
        }
    }

    /// Positions of the rules whose host list admits `host`, in table order (a rule may appear twice in a row).
    private func candidates(for host: String) -> [Int] {
        var found = anyHost
        if let exact = byHost[host] { found += exact }
        // The host and each suffix after a dot, shortest first; only those with as few labels and bytes as some
        // `*.domain` can match one, so a host of 10,000 dots costs one pass, not 10,000 lookups.
        let utf8 = host.utf8
        var end = utf8.endIndex
        var labels = 1
        while labels <= domainLabels {
            let dot = utf8[..<end].lastIndex(of: UInt8(ascii: "."))
            let start = dot.map { utf8.index(after: $0) } ?? utf8.startIndex
            guard utf8.distance(from: start, to: utf8.endIndex) <= domainBytes else { break }
            if let rules = byDomain[String(host[start...])] { found += rules }
            guard let dot else { break }
            end = dot
            labels += 1
        }
        found.sort()
        return found
    }

    /// User rules are tried before the built-in ones.
    public func adding(userRules: [CDNRule]) -> CDNRules {
        CDNRules(compiled: CDNRules(rules: userRules).compiled + compiled, fastPaths: fastPaths)
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
        guard let parts = CDNURL(url, fast: fastPaths) else { return CDNResolution(origin: url) }
        if fastPaths {
            let present = triggers.present(in: url)
            for index in admitting(host: parts.host) {
                switch gates[index] {
                case .none: break
                case .mask(let mask): if present & mask == 0 { continue }
                case .direct: if !compiled[index].requires.contains(where: { CDNURL.contains(url, $0) }) { continue }
                }
                let rule = compiled[index]
                guard let outcome = rule.apply(url, parts, fast: true),
                    let result = decide(rule, outcome, url, depth: depth)
                else { continue }
                return result
            }
        } else {
            var previous = -1
            for index in candidates(for: parts.host) where index != previous {
                previous = index
                let rule = compiled[index]
                guard rule.admitsByRegex(host: parts.host) else { continue }
                if !rule.requires.isEmpty, !rule.requires.contains(where: { CDNURL.contains(url, $0) }) { continue }
                guard let outcome = rule.apply(url, parts),
                    let result = decide(rule, outcome, url, depth: depth)
                else { continue }
                return result
            }
        }
        return CDNResolution(origin: url)
    }

    /// The resolution when `rule` matched `url` with `outcome`; nil when a proxy's inner URL is not http(s), so
    /// the next rule is tried.
    private func decide(_ rule: CompiledRule, _ outcome: RuleOutcome, _ url: String, depth: Int) -> CDNResolution? {
        let here = CDNResolution(
            origin: outcome.origin, width: outcome.width, height: outcome.height, mode: outcome.mode,
            rule: rule.rule.name)
        guard rule.rule.unwrap else { return here }
        // A proxy: the inner URL must itself be absolute http(s), else the rule does not apply.
        guard CDNURL(outcome.origin, fast: fastPaths) != nil else { return nil }
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

    /// Candidate lists by host, bounded (cleared when full) so a scan over many hosts does not grow it forever:
    /// at most 16,384 hosts of at most 253 bytes (the longest DNS name; longer ones are not cached), a few MB.
    private final class HostCache: Sendable {
        private static let limit = 16_384
        private let lists = Mutex<[String: [Int]]>([:])

        func list(for host: String, compute: () -> [Int]) -> [Int] {
            guard host.utf8.count <= 253 else { return compute() }
            if let known = lists.withLock({ $0[host] }) { return known }
            let list = compute()
            lists.withLock { lists in
                if lists.count >= Self.limit { lists.removeAll(keepingCapacity: true) }
                lists[host] = list
            }
            return list
        }
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
