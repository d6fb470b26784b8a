/// `FetchPlanning.host(of:)` for many URLs, computed once per distinct ASCII `scheme://authority` (what `scan`'s
/// summary counts). Not thread-safe: one per thread or per post.
public struct HostMemo {
    private var known: [Substring: String] = [:]

    /// Creates an empty memo.
    public init() {}

    /// The host of `url` as `FetchPlanning.host(of:)` gives it, "" when it has none.
    public mutating func host(of url: String) -> String {
        guard let key = Self.key(url) else { return FetchPlanning.host(of: url) ?? "" }
        if let host = known[key] { return host }
        let host = FetchPlanning.host(of: url) ?? ""
        known[key] = host
        return host
    }

    /// The part of `url` that decides its host: up to and including the first `/`, `?` or `#` after the first
    /// `://` and the byte after it. Nil unless all of it is ASCII: there bytes are characters (no combining marks
    /// can join a delimiter), so two URLs with the same key have the same host.
    static func key(_ url: String) -> Substring? {
        let utf8 = url.utf8
        var i = utf8.startIndex
        var colons = 0  // how much of "://" was just seen
        var afterScheme: String.Index?
        while i < utf8.endIndex {
            let byte = utf8[i]
            guard byte < 0x80 else { return nil }
            if afterScheme == nil {
                switch (colons, byte) {
                case (_, UInt8(ascii: ":")): colons = 1
                case (1, UInt8(ascii: "/")): colons = 2
                case (2, UInt8(ascii: "/")): afterScheme = utf8.index(after: i)
                default: colons = 0
                }
            } else if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "#") {
                let next = utf8.index(after: i)
                guard next < utf8.endIndex else { return url[...] }
                guard utf8[next] < 0x80 else { return nil }
                return url[...next]
            }
            i = utf8.index(after: i)
        }
        return afterScheme == nil ? nil : url[...]
    }
}
