/// One `allow-addresses:` entry: the hosts a pattern names, or a network.
public enum AddressAllowance: Sendable, Hashable, CustomStringConvertible {
    /// `img.example.com` or `*.example.com`: that host (or domain) may connect to any address it resolves to.
    case host(String)
    /// `10.0.0.0/8`, `fd00::/8`, or one address: any URL may connect to addresses in it.
    case network(IPNetwork)

    /// Parses an entry: a network in CIDR notation or one address, else a host pattern. Nil for text that is
    /// neither, including numeric shorthand (`127.1`, `10.0.0.0/33`) and names ending in a number, which URLs
    /// read as IPv4 addresses.
    public init?(_ text: String) {
        let t = text
        if let network = IPNetwork(t) {
            self = .network(network)
            return
        }
        let name = t.hasPrefix("*.") ? t.dropFirst(2) : Substring(t)
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard !name.isEmpty, labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(Self.isHostCharacter) }),
            let last = labels.last, !last.allSatisfy(\.isNumber), !last.lowercased().hasPrefix("0x")
        else { return nil }
        self = .host(t.lowercased())
    }

    /// The entry as written in the configuration.
    public var description: String {
        switch self {
        case .host(let pattern): pattern
        case .network(let network): "\(network)"
        }
    }

    private static func isHostCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_")
    }
}

/// Where a download may connect: every public address, plus what `allow-addresses:` and `--connect-to` open.
/// The downloader asks it for each socket, with the address libcurl resolved, so every way of writing or
/// reaching an address (a name, `127.1`, `2130706433`, a redirect, a DNS answer that changes) is judged the same.
public struct AddressPolicy: Sendable {
    /// The `allow-addresses:` entries.
    public var allowances: [AddressAllowance]
    /// `--connect-to` entries (`HOST:PORT:ADDR:PORT`): a URL on a HOST:PORT they route was sent to its
    /// target on purpose, so its connection is allowed whatever the target's address.
    public var connectTo: [String]

    /// A policy that allows public addresses plus `allow` and the targets of `connectTo`.
    public init(allow: [AddressAllowance] = [], connectTo: [String] = []) {
        self.allowances = allow
        self.connectTo = connectTo
    }

    /// Nil when a connection to `address` for `url` (the URL being fetched, after any redirect) may be
    /// opened; otherwise the refusal, with the message to show.
    public func check(_ address: IPAddress, url: String) -> AddressRefusal? {
        guard let classification = SpecialAddresses.classify(address) else { return nil }
        for case .network(let network) in allowances where network.contains(address) { return nil }
        if allowsEveryAddress(url: url) { return nil }
        return AddressRefusal(
            url: url, host: Self.hostAndPort(url).host, address: address, classification: classification)
    }

    /// Whether `url` may connect to whatever its host resolves to: its host matches an `allow-addresses:` host
    /// pattern, or a `--connect-to` entry routes its host and port.
    public func allowsEveryAddress(url: String) -> Bool {
        let (host, port) = Self.hostAndPort(url)
        guard let host else { return false }
        for case .host(let pattern) in allowances where HostPattern.matches(pattern, host: host) { return true }
        return connectTo.contains(where: { Self.routes($0, host: host, port: port) })
    }

    /// Whether a `--connect-to` entry applies to `host:port` (an empty HOST or PORT matches any, as in libcurl).
    static func routes(_ entry: String, host: String, port: Int?) -> Bool {
        var rest = Substring(entry)
        let entryHost: Substring
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            entryHost = rest[...close]
            rest = rest[rest.index(after: close)...]
        } else {
            entryHost = rest.prefix(while: { $0 != ":" })
            rest = rest[entryHost.endIndex...]
        }
        guard rest.hasPrefix(":") else { return false }
        let entryPort = rest.dropFirst().prefix(while: { $0 != ":" })
        let hostMatches = entryHost.isEmpty || entryHost.lowercased() == host.lowercased()
        let portMatches = entryPort.isEmpty || Int(entryPort) == port
        return hostMatches && portMatches
    }

    /// The host (lower case, IPv6 in brackets) and port (the scheme's default when none is written) of a URL.
    static func hostAndPort(_ url: String) -> (host: String?, port: Int?) {
        guard let authority = URLAuthority(url) else { return (nil, nil) }
        return (authority.host, authority.effectivePort)
    }
}

/// A connection the policy refused: the URL, the address it resolved to, and the block that address is in.
public struct AddressRefusal: Sendable, Hashable {
    /// The URL being fetched when the connection was refused (a redirect's target, if it came to that).
    public let url: String
    /// Its host, when the URL has one.
    public let host: String?
    /// The address libcurl was about to connect to.
    public let address: IPAddress
    /// Why that address is not public.
    public let classification: AddressClassification

    /// What happened and how to allow it on purpose.
    public var message: String {
        var ways = ["\"\(address)\" (this address)"]
        if let host, AddressAllowance(host) == .host(host) { ways.insert("\"\(host)\" (this host)", at: 0) }
        return "\(url) connects to \(address), which is \(classification), not a public address; imgarchive "
            + "does not fetch from internal addresses. If that is intended, add "
            + ways.joined(separator: " or ") + " to allow-addresses: in imgarchive.yml (docs/security.md)"
    }
}
