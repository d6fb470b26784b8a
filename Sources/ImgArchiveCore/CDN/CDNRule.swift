/// A user- or built-in rule, decodable from the config file (YAML via Yams/Codable).
///
/// A rule is data for one small engine (`CDNRules`): a host gate, one regular expression with named captures,
/// optional extra searches, and a description of how to build the original URL. See docs/cdn-rules.md.
public struct CDNRule: Sendable, Hashable, Codable {
    /// What `pattern` is matched against.
    public enum Subject: String, Sendable, Hashable, Codable {
        /// The whole URL as written (nothing decoded).
        case url
        /// Each `&`-separated query item, percent-decoded; the first item that matches is the processing
        /// parameter and is removed from the origin, every other item is kept byte for byte.
        case queryItem = "query-item"
    }

    /// Name reported in `CDNResolution.rule`.
    public var name: String
    /// Host gate: exact names, or `*.example.com` for the domain and all its subdomains. Empty: any host.
    public var hosts: [String]
    /// Host gate as a regular expression on the lowercased host (nil: no regex gate).
    public var hostRegex: String?
    /// Cheap prefilter: the URL must contain one of these strings (case-sensitive) before any regex runs.
    /// Empty: no prefilter.
    public var requires: [String]
    /// What `pattern` is matched against.
    public var subject: Subject
    /// Regular expression (ICU syntax) that must match. Named captures `width`, `height`, `size`, `mode`,
    /// `origin`, `scope` have meanings; any other name can be used in the `origin` template.
    public var pattern: String
    /// Optional extra searches; their named captures fill captures the pattern left empty. They search the
    /// pattern's `scope` capture when it has one, else the whole subject.
    public var find: [String]
    /// Template for the origin (`${name}`, `${name|url}` percent-decodes an encoded URL, `${name|hex}`
    /// hex-decodes). Nil: the `origin` capture if the pattern has one; else, for `query-item` rules, the URL without
    /// the processing item and fragment, and for `url` rules, the URL without its fragment.
    public var origin: String?
    /// The origin is a wrapped URL to resolve again (proxies), at most three levels deep.
    public var unwrap: Bool
    /// Width for a named size captured as `size` (`small: 680`).
    public var sizes: [String: Int]
    /// Resize mode when `modes` does not decide.
    public var mode: ResizeMode?
    /// Resize mode keyed by the text of capture `mode` (or, when that is empty, `size`).
    public var modes: [String: ResizeMode]
    /// Query parameters (by name) removed from the origin; `*` removes the whole query.
    public var removeParams: [String]
    /// Query parameters whose value is set (or added) in the origin, e.g. `name: orig`.
    public var setParams: [String: String]
    /// Query parameters that carry a signature or expiry: when the input has one, the origin is the input as
    /// written (the size is still reported).
    public var signed: [String]

    /// Creates a rule; every part but the name and the pattern has a neutral default.
    public init(
        name: String, hosts: [String] = [], hostRegex: String? = nil, requires: [String] = [],
        subject: Subject = .url, pattern: String,
        find: [String] = [], origin: String? = nil, unwrap: Bool = false, sizes: [String: Int] = [:],
        mode: ResizeMode? = nil, modes: [String: ResizeMode] = [:], removeParams: [String] = [],
        setParams: [String: String] = [:], signed: [String] = []
    ) {
        self.name = name
        self.hosts = hosts
        self.hostRegex = hostRegex
        self.requires = requires
        self.subject = subject
        self.pattern = pattern
        self.find = find
        self.origin = origin
        self.unwrap = unwrap
        self.sizes = sizes
        self.mode = mode
        self.modes = modes
        self.removeParams = removeParams
        self.setParams = setParams
        self.signed = signed
    }

    /// The YAML keys (kebab-case, as in the config file).
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, host, hostRegex = "host-regex", requires, subject = "in", pattern, find, origin, unwrap, sizes, mode,
            modes
        case removeParams = "remove-params", setParams = "set-params", signed
    }

    /// Decodes a rule; `host`, `requires`, `find`, `remove-params` and `signed` take one string or a list.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        hosts = try Self.decodeList(container, .host)
        hostRegex = try container.decodeIfPresent(String.self, forKey: .hostRegex)
        requires = try Self.decodeList(container, .requires)
        subject = try container.decodeIfPresent(Subject.self, forKey: .subject) ?? .url
        pattern = try container.decode(String.self, forKey: .pattern)
        find = try Self.decodeList(container, .find)
        origin = try container.decodeIfPresent(String.self, forKey: .origin)
        unwrap = try container.decodeIfPresent(Bool.self, forKey: .unwrap) ?? false
        sizes = try container.decodeIfPresent([String: Int].self, forKey: .sizes) ?? [:]
        mode = try container.decodeIfPresent(ResizeMode.self, forKey: .mode)
        modes = try container.decodeIfPresent([String: ResizeMode].self, forKey: .modes) ?? [:]
        removeParams = try Self.decodeList(container, .removeParams)
        setParams = try container.decodeIfPresent([String: String].self, forKey: .setParams) ?? [:]
        signed = try Self.decodeList(container, .signed)
    }

    /// Encodes the rule with the same keys it decodes from, leaving out defaults.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        if !hosts.isEmpty { try container.encode(hosts, forKey: .host) }
        try container.encodeIfPresent(hostRegex, forKey: .hostRegex)
        if !requires.isEmpty { try container.encode(requires, forKey: .requires) }
        if subject != .url { try container.encode(subject, forKey: .subject) }
        try container.encode(pattern, forKey: .pattern)
        if !find.isEmpty { try container.encode(find, forKey: .find) }
        try container.encodeIfPresent(origin, forKey: .origin)
        if unwrap { try container.encode(unwrap, forKey: .unwrap) }
        if !sizes.isEmpty { try container.encode(sizes, forKey: .sizes) }
        try container.encodeIfPresent(mode, forKey: .mode)
        if !modes.isEmpty { try container.encode(modes, forKey: .modes) }
        if !removeParams.isEmpty { try container.encode(removeParams, forKey: .removeParams) }
        if !setParams.isEmpty { try container.encode(setParams, forKey: .setParams) }
        if !signed.isEmpty { try container.encode(signed, forKey: .signed) }
    }

    private static func decodeList(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws
        -> [String]
    {
        guard container.contains(key) else { return [] }
        if let one = try? container.decode(String.self, forKey: key) { return [one] }
        return try container.decode([String].self, forKey: key)
    }
}
