/// The front matter most posts have, read without a YAML parser: top-level `key: value` lines with one-line
/// values (plain, or quoted without escapes), flow lists of plain words (`tags: [a, b]`), blank lines and comment
/// lines. For such text it gives what Yams gives (every scalar with its key, in order, and the bytes of its
/// value); for anything else (nesting, block scalars, anchors, tags, tabs, escapes, duplicate keys, characters
/// YAML treats specially) it gives nil and Yams reads the text. Parsing a small front matter with Yams costs more
/// than scanning the rest of a small post.
enum FrontMatterFlat {
    struct Entry {
        var key: Range<Int>
        /// The scalar's bytes: inside the quotes of a quoted one.
        var value: Range<Int>
    }

    /// The entries of the lines `first..<end` (line indexes) of the post, or nil when Yams must read them.
    static func entries(_ b: ByteView, lines: LineTable, first: Int, end: Int) -> [Entry]? {
        var entries: [Entry] = []
        var keys = Set<String>()
        for k in first..<end {
            let s = lines.starts[k]
            let e = lines.ends[k]
            guard printable(b, s, e) else { return nil }
            var i = s
            while i < e, b[i] == ASCII.space { i += 1 }
            if i == e || b[i] == ASCII.hash { continue }  // blank, or a comment
            guard i == s, isKeyStart(b[i]) else { return nil }
            while i < e, isKeyByte(b[i]) { i += 1 }
            guard i < e, b[i] == ASCII.colon, i + 1 == e || b[i + 1] == ASCII.space else { return nil }
            guard keys.insert(b.string(s..<i)).inserted else { return nil }  // a duplicate key: Yams repairs it
            let key = s..<i
            i += 1
            while i < e, b[i] == ASCII.space { i += 1 }
            if i == e { continue }  // no value (null), or a value on the lines below: then the next line fails
            let c = b[i]
            if c == ASCII.quote || c == ASCII.apostrophe {
                guard let j = closingQuote(b, from: i, end: e), restIsEmpty(b, j + 1, e) else { return nil }
                if j > i + 1 { entries.append(Entry(key: key, value: (i + 1)..<j)) }
            } else if c == ASCII.openBracket {
                guard flowList(b, from: i, end: e, key: key, into: &entries) else { return nil }
            } else {
                guard let value = plain(b, from: i, end: e, flow: false) else { return nil }
                entries.append(Entry(key: key, value: value))
            }
        }
        return entries
    }

    private static func isKeyStart(_ c: UInt8) -> Bool { ASCII.isLetter(c) || ASCII.isDigit(c) || c == 0x5F }
    private static func isKeyByte(_ c: UInt8) -> Bool { isKeyStart(c) || c == ASCII.minus }

    /// A plain scalar from `i` to the end of the line (or, in a flow list, to the next `,` or `]`), trimmed of
    /// spaces; nil when YAML would read more than a plain scalar there.
    private static func plain(_ b: ByteView, from i: Int, end e: Int, flow: Bool) -> Range<Int>? {
        guard !isIndicator(b[i]) else { return nil }
        var j = i
        while j < e {
            let c = b[j]
            if flow && (c == ASCII.comma || c == ASCII.closeBracket) { break }
            if flow && (c == ASCII.colon || c == ASCII.openBracket || c == ASCII.openBrace || c == ASCII.closeBrace) {
                return nil
            }
            if c == ASCII.colon && (j + 1 == e || b[j + 1] == ASCII.space) { return nil }  // a mapping
            if c == ASCII.hash && b[j - 1] == ASCII.space { return nil }  // a comment
            j += 1
        }
        var t = j
        while t > i, b[t - 1] == ASCII.space { t -= 1 }
        guard t > i, flow || t == e else { return nil }  // trailing spaces: let Yams trim them
        return i..<t
    }

    /// A flow list of plain scalars, `[a, b]` or `[]`, with nothing after it.
    private static func flowList(
        _ b: ByteView, from open: Int, end e: Int, key: Range<Int>, into entries: inout [Entry]
    )
        -> Bool
    {
        var i = open + 1
        while i < e, b[i] == ASCII.space { i += 1 }
        if i < e, b[i] == ASCII.closeBracket { return restIsEmpty(b, i + 1, e) }
        while i < e {
            guard let value = plain(b, from: i, end: e, flow: true) else { return false }
            entries.append(Entry(key: key, value: value))
            i = value.upperBound
            while i < e, b[i] == ASCII.space { i += 1 }
            guard i < e else { return false }
            if b[i] == ASCII.closeBracket { return restIsEmpty(b, i + 1, e) }
            i += 1  // the comma
            while i < e, b[i] == ASCII.space { i += 1 }
        }
        return false
    }

    /// The closing quote of a one-line quoted scalar without escapes (`\` in double quotes, `''` in single ones).
    private static func closingQuote(_ b: ByteView, from i: Int, end e: Int) -> Int? {
        let q = b[i]
        var j = i + 1
        while j < e, b[j] != q {
            if q == ASCII.quote && b[j] == ASCII.backslash { return nil }
            j += 1
        }
        guard j < e, j + 1 == e || b[j + 1] != q else { return nil }
        return j
    }

    private static func restIsEmpty(_ b: ByteView, _ i: Int, _ e: Int) -> Bool { i == e }

    /// The bytes that cannot start a plain scalar, or start something else.
    private static func isIndicator(_ c: UInt8) -> Bool {
        switch c {
        case ASCII.minus, 0x3F, ASCII.colon, ASCII.comma, ASCII.openBracket, ASCII.closeBracket, ASCII.openBrace,
            ASCII.closeBrace, ASCII.hash, ASCII.ampersand, ASCII.star, ASCII.bang, ASCII.pipe, ASCII.greaterThan,
            ASCII.apostrophe, ASCII.quote, ASCII.percent, 0x40, ASCII.backtick, ASCII.space:
            return true
        default:
            return false
        }
    }

    /// Whether the line is text YAML reads as it is: printable ASCII without tabs, or UTF-8 of the characters
    /// YAML allows, other than the ones it takes as line breaks (U+0085, U+2028, U+2029) and U+FEFF.
    private static func printable(_ b: ByteView, _ s: Int, _ e: Int) -> Bool {
        var i = s
        while i < e {
            let c = b[i]
            if c < 0x80 {
                guard c >= 0x20, c != 0x7F else { return false }
                i += 1
                continue
            }
            let length: Int
            var scalar: UInt32
            if c & 0xE0 == 0xC0 {
                length = 2
                scalar = UInt32(c & 0x1F)
            } else if c & 0xF0 == 0xE0 {
                length = 3
                scalar = UInt32(c & 0x0F)
            } else if c & 0xF8 == 0xF0 {
                length = 4
                scalar = UInt32(c & 0x07)
            } else {
                return false
            }
            guard i + length <= e else { return false }
            for k in 1..<length {
                let d = b[i + k]
                guard d & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(d & 0x3F)
            }
            let shortest: UInt32 = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000
            guard scalar >= shortest else { return false }  // overlong
            let allowed =
                (scalar >= 0xA0 && scalar <= 0xD7FF && scalar != 0x2028 && scalar != 0x2029)
                || (scalar >= 0xE000 && scalar <= 0xFFFD && scalar != 0xFEFF)
                || (scalar >= 0x10000 && scalar <= 0x10FFFF)
            guard allowed else { return false }
            i += length
        }
        return true
    }
}
