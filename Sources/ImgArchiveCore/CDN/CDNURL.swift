/// The pieces of an absolute http(s) URL the rule engine needs, found by plain string scanning (no decoding, no
/// normalisation: what is not touched stays byte for byte).
struct CDNURL: Sendable {
    /// Scheme, authority and path: everything before `?` or `#`.
    let base: Substring
    /// The query without its `?`, nil when the URL has none.
    let query: Substring?
    /// The host, lowercased, without user info or port.
    let host: String

    /// Splits `url`; nil when it is not an absolute http or https URL with a host. Scans UTF-8 bytes only
    /// (Character iteration would cost tens of microseconds per URL). `fast` reads the bytes through one buffer
    /// (`init(fast:)`); the general reading below is the reference it is tested against.
    init?(_ url: String, fast: Bool = false) {
        if fast {
            self.init(fast: url)
        } else {
            self.init(general: url)
        }
    }

    private init?(general url: String) {
        let bytes = url.utf8
        guard bytes.count <= 16_384, !bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return nil }
        var cursor = bytes.startIndex
        func take(_ ascii: String) -> Bool {
            var probe = cursor
            for expected in ascii.utf8 {
                guard probe != bytes.endIndex, bytes[probe] | 0x20 == expected else { return false }
                probe = bytes.index(after: probe)
            }
            cursor = probe
            return true
        }
        guard take("http"), take("s://") || take("://") else { return nil }
        let afterScheme = cursor
        let hashIndex = bytes.firstIndex(of: UInt8(ascii: "#"))
        let beforeFragment = url[..<(hashIndex ?? url.endIndex)]
        let questionIndex = beforeFragment.utf8.firstIndex(of: UInt8(ascii: "?"))
        base = beforeFragment[..<(questionIndex ?? beforeFragment.endIndex)]
        query = questionIndex.map { beforeFragment[beforeFragment.utf8.index(after: $0)...] }
        guard afterScheme <= base.endIndex, let authority = URLAuthority(url), Self.isHost(authority.host.utf8) else {
            return nil
        }
        host = authority.host
    }

    /// The same split as `init(_:)`, in one pass over a byte buffer with offsets instead of string indices.
    private init?(fast url: String) {
        var copy = url
        let found: (base: Int, query: Int?, end: Int, host: String)? = copy.withUTF8 { bytes in
            let count = bytes.count
            guard count <= 16_384 else { return nil }
            var hash: Int?
            var question: Int?
            for i in 0..<count {
                let byte = bytes[i]
                if byte <= 0x20 || byte == 0x7F { return nil }
                if hash == nil {
                    if byte == UInt8(ascii: "#") {
                        hash = i
                    } else if byte == UInt8(ascii: "?") && question == nil {
                        question = i
                    }
                }
            }
            var cursor = 0
            func take(_ ascii: StaticString) -> Bool {
                let expected = UnsafeBufferPointer(start: ascii.utf8Start, count: ascii.utf8CodeUnitCount)
                guard cursor + expected.count <= count else { return false }
                for k in 0..<expected.count where bytes[cursor + k] | 0x20 != expected[k] { return false }
                cursor += expected.count
                return true
            }
            guard take("http"), take("s://") || take("://") else { return nil }
            let end = hash ?? count
            let baseEnd = question ?? end
            guard cursor <= baseEnd else { return nil }
            guard let bounds = URLAuthority.locate(in: bytes, from: cursor),
                Self.isHost(UnsafeBufferPointer(rebasing: bytes[bounds.hostStart..<bounds.hostEnd]))
            else { return nil }
            let host = URLAuthority.lowercased(bytes, bounds.hostStart..<bounds.hostEnd)
            return (baseEnd, question, end, host)
        }
        guard let found else { return nil }
        let utf8 = url.utf8
        let baseEnd = utf8.index(utf8.startIndex, offsetBy: found.base)
        let end = utf8.index(utf8.startIndex, offsetBy: found.end)
        base = url[..<baseEnd]
        query = found.query.map { url[utf8.index(utf8.startIndex, offsetBy: $0 + 1)..<end] }
        host = found.host
    }

    /// Whether the host `URLAuthority` found names a host a CDN rule can match: not empty, an IPv6 literal closed by
    /// its `]`, and only letters, digits, `-`, `.`, `_` (and the brackets and colons of an IPv6 literal) or
    /// non-ASCII bytes.
    private static func isHost<Bytes: Collection<UInt8>>(_ host: Bytes) -> Bool {
        guard let first = host.first else { return false }
        if first == UInt8(ascii: "[") {
            var last = first
            for byte in host { last = byte }
            guard last == UInt8(ascii: "]") else { return false }
        }
        for byte in host {
            guard
                byte >= 0x80 || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "[")
                    || byte == UInt8(ascii: "]") || byte == UInt8(ascii: ":")
            else { return false }
        }
        return true
    }

    /// The query's `&`-separated items (empty items dropped).
    var queryItems: [Substring] {
        query.map(Self.split) ?? []
    }

    /// The URL without its fragment.
    var withoutFragment: String {
        query.map { "\(base)?\($0)" } ?? String(base)
    }

    /// Splits a query at `&` (empty items dropped), scanning bytes.
    static func split(_ query: Substring) -> [Substring] {
        var items: [Substring] = []
        var start = query.startIndex
        for index in query.utf8.indices where query.utf8[index] == UInt8(ascii: "&") {
            if start < index { items.append(query[start..<index]) }
            start = query.utf8.index(after: index)
        }
        if start < query.endIndex { items.append(query[start...]) }
        return items
    }

    /// Whether `text` contains `needle` (UTF-8 bytes, case-sensitive).
    static func contains(_ text: String, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        var text = text
        return text.withUTF8 { contains($0, needle) }
    }

    /// Whether `haystack` contains `needle`.
    static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        guard haystack.count >= needle.count else { return false }
        var index = 0
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first {
                var offset = 1
                while offset < needle.count && haystack[index + offset] == needle[offset] { offset += 1 }
                if offset == needle.count { return true }
            }
            index += 1
        }
        return false
    }

    /// The name of a query item: the text before `=`, or the whole item.
    static func key(of item: Substring) -> Substring {
        item.utf8.firstIndex(of: UInt8(ascii: "=")).map { item[..<$0] } ?? item
    }

    /// `base`, plus `?` and the items when there are any.
    static func join(_ base: Substring, _ items: [Substring]) -> String {
        items.isEmpty ? String(base) : "\(base)?\(items.joined(separator: "&"))"
    }

    /// Applies `remove` (names; `*` = every item) and `set` (name → value) to the query of `url`.
    /// The fragment, if any, is kept after the new query.
    static func editQuery(_ url: String, remove: [String], set: [String: String]) -> String {
        if remove.isEmpty && set.isEmpty { return url }
        let hashIndex = url.utf8.firstIndex(of: UInt8(ascii: "#"))
        let beforeFragment = url[..<(hashIndex ?? url.endIndex)]
        let fragment = hashIndex.map { url[$0...] } ?? ""
        let questionIndex = beforeFragment.utf8.firstIndex(of: UInt8(ascii: "?"))
        let base = beforeFragment[..<(questionIndex ?? beforeFragment.endIndex)]
        var items: [Substring] =
            questionIndex.map {
                split(beforeFragment[beforeFragment.utf8.index(after: $0)...])
            } ?? []
        if remove.contains("*") {
            items = []
        } else if !remove.isEmpty {
            items.removeAll { remove.contains(String(key(of: $0))) }
        }
        for name in set.keys.sorted() {
            let value = set[name] ?? ""
            let item = Substring("\(name)=\(value)")
            if let index = items.firstIndex(where: { key(of: $0) == name }) {
                items[index] = item
            } else {
                items.append(item)
            }
        }
        return join(base, items) + fragment
    }
}
