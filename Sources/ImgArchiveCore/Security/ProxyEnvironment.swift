/// The proxy a URL is fetched through, decided from the environment as libcurl decides it: `no_proxy` (or
/// `NO_PROXY`) first, then `http_proxy` for http URLs (lower case only: `HTTP_PROXY` can be set by a CGI request's
/// `Proxy:` header, so libcurl ignores it), `https_proxy` or `HTTPS_PROXY` for https, then `all_proxy` or
/// `ALL_PROXY`. An empty variable counts as unset (as `curl_getenv` reads it).
///
/// The downloader makes this decision itself and hands libcurl the answer (`CURLOPT_PROXY`, `""` for none), so it
/// knows which transfers go through a proxy: their connections are to the proxy, and the address guard judges the
/// target's resolved addresses instead (docs/security.md).
public struct ProxyEnvironment: Sendable, Hashable {
    private let http: String?
    private let https: String?
    private let all: String?
    private let noProxy: [String]

    /// The proxy settings in `environment` (the process's environment, usually).
    public init(_ environment: [String: String]) {
        func value(_ names: String...) -> String? {
            for name in names {
                if let value = environment[name], !value.isEmpty { return value }
            }
            return nil
        }
        http = value("http_proxy")
        https = value("https_proxy", "HTTPS_PROXY")
        all = value("all_proxy", "ALL_PROXY")
        noProxy = (value("no_proxy", "NO_PROXY") ?? "")
            .split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
            .map { String($0.drop(while: { $0 == "." })).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// Whether no proxy is configured at all.
    public var isEmpty: Bool { http == nil && https == nil && all == nil }

    /// The proxy for `url` (as written in the environment), or nil when it is fetched directly.
    public func proxy(for url: String) -> String? {
        guard !isEmpty, let host = FetchPlanning.host(of: url) else { return nil }
        let scheme = url.prefix(while: { $0 != ":" }).lowercased()
        let proxy = (scheme == "http" ? http : scheme == "https" ? https : nil) ?? all
        guard let proxy, !bypasses(host) else { return nil }
        return proxy
    }

    /// Whether `no_proxy` names `host`: `*`, the host itself, a domain it is in (`example.com` and `.example.com`
    /// cover `img.example.com`), or, for an address, that address or a network holding it (`10.0.0.0/8`).
    func bypasses(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        let address = IPAddress(name)
        for entry in noProxy {
            if entry == "*" { return true }
            if let address {
                if let network = IPNetwork(entry), network.contains(address) { return true }
                continue
            }
            if name == entry || name.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
