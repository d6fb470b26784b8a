/// The pieces of an absolute http(s) URL the rule engine needs, found by plain string scanning (no decoding, no
/// normalisation: what is not touched stays byte for byte).
struct CDNURL: Sendable {
    /// Scheme, authority and path: everything before `?` or `#`.
    let base: Substring
    /// The query without its `?`, nil when the URL has none.
    let query: Substring?
    /// The fragment without its `#`, nil when the URL has none.
    let fragment: Substring?
    /// The host, lowercased, without user info or port.
    let host: String

    /// Splits `url`; nil when it is not an absolute http or https URL with a host.
    init?(_ url: String) {
        guard url.utf8.count <= 16_384, !url.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true })
        else { return nil }
        let lower = url.prefix(8).lowercased()
        let schemeLength: Int
        if lower.hasPrefix("https://") {
            schemeLength = 8
        } else if lower.hasPrefix("http://") {
            schemeLength = 7
        } else {
            return nil
        }
        let afterScheme = url.index(url.startIndex, offsetBy: schemeLength)
        let hashIndex = url.firstIndex(of: "#")
        let beforeFragment = url[..<(hashIndex ?? url.endIndex)]
        let questionIndex = beforeFragment.firstIndex(of: "?")
        base = beforeFragment[..<(questionIndex ?? beforeFragment.endIndex)]
        query = questionIndex.map { beforeFragment[beforeFragment.index(after: $0)...] }
        fragment = hashIndex.map { url[url.index(after: $0)...] }
        guard afterScheme <= base.endIndex else { return nil }
        var authority = base[afterScheme...].prefix { $0 != "/" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            authority = authority[...close]
        } else if let colon = authority.firstIndex(of: ":") {
            authority = authority[..<colon]
        }
        guard !authority.isEmpty,
            authority.allSatisfy({ $0.isLetter || $0.isNumber || "-._[]:".contains($0) })
        else { return nil }
        host = authority.lowercased()
    }

    /// The query's `&`-separated items (empty items dropped).
    var queryItems: [Substring] {
        query.map { $0.split(separator: "&", omittingEmptySubsequences: true) } ?? []
    }

    /// The URL without its fragment.
    var withoutFragment: String {
        query.map { "\(base)?\($0)" } ?? String(base)
    }

    /// The name of a query item: the text before `=`, or the whole item.
    static func key(of item: Substring) -> Substring {
        item.firstIndex(of: "=").map { item[..<$0] } ?? item
    }

    /// `base`, plus `?` and the items when there are any.
    static func join(_ base: Substring, _ items: [Substring]) -> String {
        items.isEmpty ? String(base) : "\(base)?\(items.joined(separator: "&"))"
    }

    /// Applies `remove` (names; `*` = every item) and `set` (name → value) to the query of `url`.
    /// The fragment, if any, is kept after the new query.
    static func editQuery(_ url: String, remove: [String], set: [String: String]) -> String {
        if remove.isEmpty && set.isEmpty { return url }
        let hashIndex = url.firstIndex(of: "#")
        let beforeFragment = url[..<(hashIndex ?? url.endIndex)]
        let fragment = hashIndex.map { url[$0...] } ?? ""
        let questionIndex = beforeFragment.firstIndex(of: "?")
        let base = beforeFragment[..<(questionIndex ?? beforeFragment.endIndex)]
        var items: [Substring] =
            questionIndex.map {
                beforeFragment[beforeFragment.index(after: $0)...].split(separator: "&", omittingEmptySubsequences: true)
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
