/// TOML front matter (Hugo's `+++`), read by a small lexer: `[table]` and `[[array.of.tables]]` headers, dotted
/// and quoted keys, strings in arrays (over several lines too) and inline tables, comments. Every string is
/// offered to the selector with its key path (array levels do not count). Strings with escapes and multi-line
/// strings are skipped: their bytes are not their value.
struct FrontMatterTOML {
    let b: ByteView
    let range: Range<Int>
    let selector: FrontMatterSelector
    private(set) var found: [RawReference] = []
    private var i: Int

    /// Nesting deeper than this (arrays and inline tables) is skipped.
    private static let maxDepth = 32

    init(b: ByteView, range: Range<Int>, selector: FrontMatterSelector) {
        self.b = b
        self.range = range
        self.selector = selector
        i = range.lowerBound
    }

    private var e: Int { range.upperBound }

    mutating func run() {
        var table: [String] = []
        while i < e {
            skipBlankAndComments()
            guard i < e else { break }
            if b[i] == ASCII.openBracket {
                let double = i + 1 < e && b[i + 1] == ASCII.openBracket
                i += double ? 2 : 1
                table = keyPath(until: ASCII.closeBracket)
                skipLine()
                continue
            }
            let key = keyPath(until: ASCII.equals)
            guard i < e, b[i] == ASCII.equals else {
                skipLine()
                continue
            }
            i += 1
            value(path: table + key, depth: 0)
            skipLine()
        }
    }

    /// A dotted key (`a."b c".d`) up to `terminator` (not consumed) or the line's end.
    private mutating func keyPath(until terminator: UInt8) -> [String] {
        var parts: [String] = []
        while i < e, !ASCII.isLineEnd(b[i]), b[i] != terminator {
            skipSpaces()
            guard i < e else { break }
            let c = b[i]
            if c == ASCII.quote || c == ASCII.apostrophe {
                let s = i + 1
                i += 1
                while i < e, b[i] != c, !ASCII.isLineEnd(b[i]) {
                    i += b[i] == ASCII.backslash && c == ASCII.quote ? 2 : 1
                }
                parts.append(b.string(s..<min(i, e)))
                if i < e, b[i] == c { i += 1 }
            } else {
                let s = i
                while i < e, b[i] != ASCII.dot, b[i] != terminator, !ASCII.isWhitespace(b[i]) { i += 1 }
                if i > s { parts.append(b.string(s..<i)) }
            }
            skipSpaces()
            if i < e, b[i] == ASCII.dot { i += 1 } else if i < e, b[i] != terminator { break }
        }
        return parts
    }

    /// One value at `i`: a string (offered to the selector), an array, an inline table, or anything else
    /// (skipped).
    private mutating func value(path: [String], depth: Int) {
        skipSpaces()
        guard i < e else { return }
        let c = b[i]
        switch c {
        case ASCII.quote, ASCII.apostrophe:
            if b.matches(c == ASCII.quote ? "\"\"\"" : "'''", at: i, end: e) {
                let close = b.find(c == ASCII.quote ? "\"\"\"" : "'''", from: i + 3, end: e)
                i = close.map { $0 + 3 } ?? e
                return
            }
            let s = i + 1
            var j = s
            var escaped = false
            while j < e, b[j] != c, !ASCII.isLineEnd(b[j]) {
                if c == ASCII.quote && b[j] == ASCII.backslash {
                    escaped = true
                    j += 1
                }
                j += 1
            }
            guard j < e, b[j] == c else {
                i = j
                return
            }
            i = j + 1
            if !escaped, j > s, selector.wants(path: path.joined(separator: "."), value: b.string(s..<j)) {
                found.append(FrontMatter.frontMatterReference(s..<j))
            }
        case ASCII.openBracket:
            i += 1
            while i < e {
                skipBlankAndComments()
                guard i < e else { return }
                if b[i] == ASCII.closeBracket {
                    i += 1
                    return
                }
                if b[i] == ASCII.comma {
                    i += 1
                    continue
                }
                let before = i
                if depth < Self.maxDepth { value(path: path, depth: depth + 1) } else { skipScalar() }
                if i == before { i += 1 }
            }
        case ASCII.openBrace:
            i += 1
            while i < e, !ASCII.isLineEnd(b[i]) {
                skipSpaces()
                guard i < e else { return }
                if b[i] == ASCII.closeBrace {
                    i += 1
                    return
                }
                if b[i] == ASCII.comma {
                    i += 1
                    continue
                }
                let key = keyPath(until: ASCII.equals)
                guard i < e, b[i] == ASCII.equals else { return }
                i += 1
                let before = i
                if depth < Self.maxDepth { value(path: path + key, depth: depth + 1) } else { skipScalar() }
                if i == before { i += 1 }
            }
        default:
            skipScalar()
        }
    }

    /// A bare value (number, boolean, date): up to a separator, a comment or the line's end.
    private mutating func skipScalar() {
        while i < e, b[i] != ASCII.comma, b[i] != ASCII.closeBracket, b[i] != ASCII.closeBrace, b[i] != ASCII.hash,
            !ASCII.isLineEnd(b[i])
        {
            i += 1
        }
    }

    private mutating func skipSpaces() {
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
    }

    /// Spaces, line breaks and comments.
    private mutating func skipBlankAndComments() {
        while i < e {
            if ASCII.isWhitespace(b[i]) {
                i += 1
            } else if b[i] == ASCII.hash {
                while i < e, !ASCII.isLineEnd(b[i]) { i += 1 }
            } else {
                return
            }
        }
    }

    /// The rest of the line (a trailing comment or garbage).
    private mutating func skipLine() {
        while i < e, !ASCII.isLineEnd(b[i]) { i += 1 }
    }
}
