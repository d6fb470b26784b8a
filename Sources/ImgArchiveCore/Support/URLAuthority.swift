/// The authority of an absolute URL, `scheme://[userinfo@]host[:port]`: the one reading of a URL's host and port
/// that fetch planning (origins, host profiles), the address policy (host and port of a connection) and the
/// downloader's per-host queues share. Plain string scanning, no decoding: the authority ends at the first `/`,
/// `?` or `#` after `://`, and user info (up to the last `@`) is dropped.
public struct URLAuthority: Sendable, Hashable {
    /// The scheme, lower-cased: the text before the first `://`.
    public let scheme: String
    /// `host[:port]` as written, lower-cased, without user info.
    public let hostAndPort: String
    /// The host, lower-cased, without user info or port; an IPv6 address keeps its brackets.
    public let host: String
    /// The port written after the host, nil when there is none or it is not a number.
    public let port: Int?

    /// Splits `url`; nil when it has no `://` or nothing between it and the path.
    public init?(_ url: String) {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard end > rest.startIndex else { return nil }
        var authority = rest[..<end]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        scheme = url[..<schemeEnd.lowerBound].lowercased()
        hostAndPort = authority.lowercased()
        var host = Substring(hostAndPort)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        self.host = String(host)
        let afterHost = hostAndPort[host.endIndex...]
        port = afterHost.hasPrefix(":") ? Int(afterHost.dropFirst()) : nil
    }

    /// `scheme://host[:port]/`.
    public var origin: String { scheme + "://" + hostAndPort + "/" }

    /// The port a connection goes to: the one written, else the scheme's (443 for https, 80 for http).
    public var effectivePort: Int? { port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : nil) }
}
