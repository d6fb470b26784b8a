/// An HTML start tag as written: its lower-cased name, attributes and end.
struct HTMLTag {
    struct Attribute {
        var name: String
        /// The raw value, without quotes; nil for a bare attribute.
        var value: Range<Int>?
    }

    var name: String
    var attributes: [Attribute]
    /// The position after the closing `>`.
    var end: Int
}

/// Reads HTML start tags, their attributes, `srcset` lists and CSS `url()`s.
struct HTMLReader {
    let b: ByteView

    /// Attributes whose value is one image URL (a `switch`, not a `Set`: no hashing per attribute).
    private static func isSourceAttribute(_ name: String) -> Bool {
        switch name {
        case "src", "data-src", "data-original", "data-lazy-src": true
        default: false
        }
    }

    /// Attributes whose value is a list of candidates.
    private static func isSrcsetAttribute(_ name: String) -> Bool {
        switch name {
        case "srcset", "data-srcset", "data-lazy-srcset": true
        default: false
        }
    }

    /// An autolink `<scheme:...>`: the position after it, or nil.
    func autolinkEnd(at p: Int, end e: Int) -> Int? {
        var i = p + 1
        guard i < e, ASCII.isLetter(b[i]) else { return nil }
        while i < e, i - p <= 33,
            ASCII.isLetter(b[i]) || ASCII.isDigit(b[i]) || b[i] == ASCII.plus
                || b[i] == ASCII.dot || b[i] == ASCII.minus
        {
            i += 1
        }
        guard i - p >= 3, i < e, b[i] == ASCII.colon else { return nil }
        while i < e {
            let c = b[i]
            if c == ASCII.greaterThan { return i + 1 }
            if c <= ASCII.space || c == ASCII.lessThan { return nil }
            i += 1
        }
        return nil
    }

    /// A start tag at `p` (`<name attr="v" ...>`), or nil when the text there is not one.
    func tag(at p: Int, end e: Int) -> HTMLTag? {
        var attributes: [HTMLTag.Attribute]? = []
        guard let (name, end) = walkTag(at: p, end: e, attributes: &attributes) else { return nil }
        return HTMLTag(name: b.lowercasedString(name), attributes: attributes ?? [], end: end)
    }

    /// Where the name of a start tag at `p` is, and the position after its `>`; nil when the text there is not
    /// one. The same reading as `tag(at:end:)`, without making strings of the attributes.
    func tagExtent(at p: Int, end e: Int) -> (name: Range<Int>, end: Int)? {
        var attributes: [HTMLTag.Attribute]?
        return walkTag(at: p, end: e, attributes: &attributes)
    }

    /// Reads a start tag: its name, its end, and its attributes into `attributes` unless that is nil.
    private func walkTag(at p: Int, end e: Int, attributes: inout [HTMLTag.Attribute]?) -> (Range<Int>, Int)? {
        var i = p + 1
        guard i < e, ASCII.isLetter(b[i]) else { return nil }
        let nameStart = i
        while i < e, ASCII.isLetter(b[i]) || ASCII.isDigit(b[i]) || b[i] == ASCII.minus { i += 1 }
        let name = nameStart..<i
        var lastHasValue = false
        while i < e {
            let afterName = i
            while i < e, ASCII.isWhitespace(b[i]) { i += 1 }
            guard i < e else { return nil }
            let c = b[i]
            if c == ASCII.greaterThan { return (name, i + 1) }
            if c == ASCII.slash {
                guard i + 1 < e, b[i + 1] == ASCII.greaterThan else { return nil }
                return (name, i + 2)
            }
            guard i > afterName || lastHasValue, isAttributeNameByte(c) else { return nil }
            let attrStart = i
            while i < e, isAttributeNameByte(b[i]) { i += 1 }
            let attrName = attrStart..<i
            var value: Range<Int>?
            var j = i
            while j < e, ASCII.isWhitespace(b[j]) { j += 1 }
            if j < e, b[j] == ASCII.equals {
                j += 1
                while j < e, ASCII.isWhitespace(b[j]) { j += 1 }
                guard j < e else { return nil }
                let q = b[j]
                if q == ASCII.quote || q == ASCII.apostrophe {
                    var k = j + 1
                    while k < e, b[k] != q { k += 1 }
                    guard k < e else { return nil }
                    value = (j + 1)..<k
                    i = k + 1
                } else {
                    var k = j
                    while k < e, !ASCII.isWhitespace(b[k]), b[k] != ASCII.greaterThan, b[k] != ASCII.quote,
                        b[k] != ASCII.apostrophe, b[k] != ASCII.equals, b[k] != ASCII.lessThan,
                        b[k] != ASCII.backtick
                    {
                        k += 1
                    }
                    guard k > j else { return nil }
                    value = j..<k
                    i = k
                }
            }
            lastHasValue = value != nil
            attributes?.append(HTMLTag.Attribute(name: b.lowercasedString(attrName), value: value))
        }
        return nil
    }

    @inline(__always) private func isAttributeNameByte(_ c: UInt8) -> Bool {
        !(ASCII.isWhitespace(c) || c == ASCII.quote || c == ASCII.apostrophe || c == ASCII.greaterThan
            || c == ASCII.slash || c == ASCII.equals || c == ASCII.lessThan)
    }

    /// The image references in a tag: `src` and lazy-loading attributes of `<img>`, every `srcset` candidate
    /// of `<img>` and `<source>`, and `url()`s in any tag's `style`.
    func references(in tag: HTMLTag) -> [RawReference] {
        var out: [RawReference] = []
        var hint = SizeHint()
        if tag.name == "img" {
            for a in tag.attributes {
                guard let v = a.value else { continue }
                if a.name == "width" { hint.width = Self.pixels(decoded(v)) }
                if a.name == "height" { hint.height = Self.pixels(decoded(v)) }
            }
        }
        for a in tag.attributes {
            guard let v = a.value else { continue }
            if tag.name == "img", Self.isSourceAttribute(a.name) {
                if let r = attributeURL(v, hint: hint) { out.append(r) }
            } else if tag.name == "img" || tag.name == "source", Self.isSrcsetAttribute(a.name) {
                out.append(contentsOf: srcset(v))
            } else if a.name == "style" {
                out.append(contentsOf: cssURLs(in: v, entities: true))
            }
        }
        return out
    }

    /// The `href` of an `<a>` tag, as a link target (kind `link-image`).
    func linkTarget(in tag: HTMLTag) -> RawReference? {
        guard let v = tag.attributes.first(where: { $0.name == "href" })?.value else { return nil }
        return attributeURL(v, hint: SizeHint(), kind: .linkImage)
    }

    private func decoded(_ range: Range<Int>) -> String {
        String(decoding: URLText.decode(b.base[range], backslashEscapes: false), as: UTF8.self)
    }

    /// A URL attribute value. Browsers drop tabs and line breaks from URLs, so a value broken across lines is
    /// reported joined and flagged as wrapped.
    private func attributeURL(_ v: Range<Int>, hint: SizeHint, kind: ImageReference.Kind = .htmlImg) -> RawReference? {
        var s = v.lowerBound
        var e = v.upperBound
        while s < e, ASCII.isWhitespace(b[s]) { s += 1 }
        while e > s, ASCII.isWhitespace(b[e - 1]) { e -= 1 }
        guard s < e else { return nil }
        var pieces: [Range<Int>] = []
        var pieceStart = s
        var i = s
        while i < e {
            if ASCII.isLineEnd(b[i]) || b[i] == ASCII.tab {
                var pe = i
                while pe > pieceStart, b[pe - 1] == ASCII.space { pe -= 1 }
                if pe > pieceStart { pieces.append(pieceStart..<pe) }
                while i < e, ASCII.isWhitespace(b[i]) { i += 1 }
                pieceStart = i
            } else {
                i += 1
            }
        }
        if e > pieceStart { pieces.append(pieceStart..<e) }
        return RawReference(
            kind: kind, span: s..<e, pieces: pieces, wrapped: pieces.count > 1, backslashEscapes: false,
            entities: true, hint: hint)
    }

    /// The candidates of a `srcset` value (the WHATWG parsing algorithm): each URL, with its `Nw` width.
    private func srcset(_ v: Range<Int>) -> [RawReference] {
        var out: [RawReference] = []
        var i = v.lowerBound
        let e = v.upperBound
        while i < e {
            while i < e, ASCII.isWhitespace(b[i]) || b[i] == ASCII.comma { i += 1 }
            guard i < e else { break }
            let urlStart = i
            while i < e, !ASCII.isWhitespace(b[i]) { i += 1 }
            var urlEnd = i
            var hasDescriptors = true
            if b[urlEnd - 1] == ASCII.comma {
                while urlEnd > urlStart, b[urlEnd - 1] == ASCII.comma { urlEnd -= 1 }
                hasDescriptors = false
            }
            var hint = SizeHint()
            if hasDescriptors {
                var depth = 0
                let descriptorStart = i
                while i < e {
                    let c = b[i]
                    if c == ASCII.openParen { depth += 1 }
                    if c == ASCII.closeParen, depth > 0 { depth -= 1 }
                    if c == ASCII.comma, depth == 0 { break }
                    i += 1
                }
                for descriptor in b.string(descriptorStart..<i).split(whereSeparator: { $0.isWhitespace }) {
                    if descriptor.hasSuffix("w"), let w = Int(descriptor.dropLast()), w > 0 { hint.width = w }
                }
            }
            guard urlEnd > urlStart else { continue }
            out.append(
                RawReference(
                    kind: .htmlSrcset, span: urlStart..<urlEnd, pieces: [urlStart..<urlEnd], wrapped: false,
                    backslashEscapes: false, entities: true, hint: hint))
        }
        return out
    }

    /// CSS `url(...)`s in a range, skipping comments and `@import`.
    func cssURLs(in range: Range<Int>, entities: Bool) -> [RawReference] {
        var out: [RawReference] = []
        var i = range.lowerBound
        let e = range.upperBound
        while i < e {
            let c = b[i]
            if c == ASCII.slash, i + 1 < e, b[i + 1] == ASCII.star {
                i = (b.find("*/", from: i + 2, end: e).map { $0 + 2 }) ?? e
                continue
            }
            if c == 0x40, b.matchesCaseInsensitive("@import", at: i, end: e) {
                i = (b.find(";", from: i, end: e).map { $0 + 1 }) ?? e
                continue
            }
            guard ASCII.lower(c) == 0x75, b.matchesCaseInsensitive("url(", at: i, end: e),
                i == range.lowerBound || !(ASCII.isLetter(b[i - 1]) || b[i - 1] == ASCII.minus)
            else {
                i += 1
                continue
            }
            var j = i + 4
            while j < e, ASCII.isWhitespace(b[j]) { j += 1 }
            guard j < e else { break }
            var s = j
            var t: Int
            if b[j] == ASCII.quote || b[j] == ASCII.apostrophe {
                let q = b[j]
                s = j + 1
                t = s
                while t < e, b[t] != q, !ASCII.isLineEnd(b[t]) { t += 1 }
                guard t < e, b[t] == q else {
                    i = j + 1
                    continue
                }
                i = t + 1
            } else if entities, b.matches("&quot;", at: j, end: e) || b.matches("&#39;", at: j, end: e) {
                let q: StaticString = b[j + 1] == ASCII.quote ? "&quot;" : "&#39;"
                s = j + q.utf8CodeUnitCount
                guard let close = b.find(q, from: s, end: e) else {
                    i = j + 1
                    continue
                }
                t = close
                i = close + q.utf8CodeUnitCount
            } else {
                t = j
                while t < e, b[t] != ASCII.closeParen, !ASCII.isWhitespace(b[t]) { t += 1 }
                i = t
            }
            if t > s {
                out.append(
                    RawReference(
                        kind: .cssURL, span: s..<t, pieces: [s..<t], wrapped: false, backslashEscapes: false,
                        entities: entities, hint: SizeHint()))
            }
        }
        return out
    }

    /// `name=value` pairs of a kramdown or Pandoc attribute list (`: .cls width="550"`), values decoded.
    func attributes(in range: Range<Int>) -> [(String, String)] {
        var out: [(String, String)] = []
        var i = range.lowerBound
        let e = range.upperBound
        while i < e {
            while i < e, !(ASCII.isLetter(b[i])) { i += 1 }
            let nameStart = i
            while i < e, ASCII.isLetter(b[i]) || ASCII.isDigit(b[i]) || b[i] == ASCII.minus || b[i] == 0x5F { i += 1 }
            let name = b.string(nameStart..<i).lowercased()
            guard i < e, b[i] == ASCII.equals else { continue }
            i += 1
            var s = i
            var t: Int
            if i < e, b[i] == ASCII.quote || b[i] == ASCII.apostrophe {
                let q = b[i]
                s = i + 1
                t = s
                while t < e, b[t] != q { t += 1 }
                i = min(t + 1, e)
            } else {
                t = i
                while t < e, !ASCII.isWhitespace(b[t]) { t += 1 }
                i = t
            }
            out.append((name, b.string(s..<t)))
        }
        return out
    }

    /// A pixel count from `550`, `550px` or ` 550 `; nil for percentages and anything else.
    static func pixels(_ value: String) -> Int? {
        var s = Substring(value.trimmingASCIIWhitespace())
        if s.lowercased().hasSuffix("px") { s = s.dropLast(2) }
        guard let n = Int(s), n > 0 else { return nil }
        return n
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    func trimmingASCIIWhitespace() -> String {
        let u = Array(utf8)
        var s = 0
        var e = u.count
        while s < e, ASCII.isWhitespace(u[s]) { s += 1 }
        while e > s, ASCII.isWhitespace(u[e - 1]) { e -= 1 }
        return String(decoding: u[s..<e], as: UTF8.self)
    }
}
