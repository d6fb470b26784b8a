/// Sort-friendly URI Reordering Transform keys, as the replay tools' indexes use them (pywb's `cdxj-indexer`, the
/// `surt` package's default canonicalization): `http://www.Example.com:8080/A.png?b=2&a=1#x` becomes
/// `com,example:8080)/a.png?a=1&b=2`. The scheme, a `www`/`wwwN` label, the default port and the fragment are
/// dropped, the host's labels are reversed, everything is lowercased and the query's arguments are sorted.
public enum SURT {
    /// The SURT key of `url`; the URL itself, lowercased, when it has no `scheme://host`.
    public static func key(_ url: String) -> String {
        var rest = Substring(url)
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        guard let schemeEnd = rest.range(of: "://") else { return url.lowercased() }
        let scheme = rest[..<schemeEnd.lowerBound].lowercased()
        rest = rest[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        var pathAndQuery = rest[authorityEnd...]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host = authority
        var port: Substring?
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            port = host[host.index(after: close)...].hasPrefix(":") ? host[host.index(close, offsetBy: 2)...] : nil
            host = host[...close]
        } else if let colon = host.lastIndex(of: ":") {
            port = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        var labels = host.lowercased().split(separator: ".", omittingEmptySubsequences: true).map(String.init)
        if labels.count > 2, let first = labels.first, first.hasPrefix("www"),
            first.dropFirst(3).allSatisfy(\.isNumber)
        {
            labels.removeFirst()
        }
        var key = host.hasPrefix("[") ? host.lowercased() : labels.reversed().joined(separator: ",")
        if let port, !port.isEmpty, !(scheme == "http" && port == "80"), !(scheme == "https" && port == "443") {
            key += ":" + port
        }
        key += ")"
        if pathAndQuery.isEmpty || pathAndQuery.first == "?" { key += "/" }
        var query: Substring?
        if let question = pathAndQuery.firstIndex(of: "?") {
            query = pathAndQuery[pathAndQuery.index(after: question)...]
            pathAndQuery = pathAndQuery[..<question]
        }
        key += pathAndQuery.lowercased()
        if let query, !query.isEmpty {
            key += "?" + query.lowercased().split(separator: "&").sorted().joined(separator: "&")
        }
        return key
    }
}
