/// A host pattern from the configuration: `host`, or `*.domain` for the domain and its subdomains.
public enum HostPattern {
    /// Whether `pattern` names `host` (compared case-insensitively).
    public static func matches(_ pattern: String, host: String) -> Bool {
        let h = host.lowercased()
        let p = pattern.lowercased()
        if p.hasPrefix("*.") {
            let domain = p.dropFirst(2)
            return h == domain || h.hasSuffix("." + domain)
        }
        return h == p
    }
}
