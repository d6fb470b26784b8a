/// A link destination as written: the bytes to replace and the pieces that make up the URL.
struct Destination {
    /// The bytes to replace (inside `<...>` for a pointy destination; all pieces of a wrapped one).
    var span: Range<Int>
    /// The URL's pieces: one, or several when a converter wrapped it across lines.
    var pieces: [Range<Int>]
    /// True when the URL was broken across lines.
    var wrapped: Bool
}

/// Where the content of a post's lines starts, after their container markers, as the block pass found them. A
/// construct that goes on to the next line (a destination, a title, a declaration) goes on at that line's content,
/// as CommonMark strips the markers before reading inlines: a `>` there is content, not a marker to skip.
struct LineContent {
    let lines: LineTable
    /// The content start of each line whose container markers hold a `>`; empty when no line's do (then a line's
    /// content is its text after its indentation, which is all list items take).
    private var starts: [Int] = []

    init(lines: LineTable) {
        self.lines = lines
    }

    /// Records that line `k`'s content starts at `i`. Lines are recorded only once a block quote has been seen.
    @inline(__always) mutating func record(_ k: Int, _ i: Int) {
        if !starts.isEmpty { starts[k] = i }
    }

    /// Called at the first block quote: from now on lines are recorded.
    mutating func startRecording() {
        if starts.isEmpty { starts = lines.starts }
    }

    /// The start of the content of the line that starts at `lineStart` (its markers' end; its indentation is not
    /// skipped).
    @inline(__always) func start(ofLineAt lineStart: Int) -> Int {
        starts.isEmpty ? lineStart : starts[lines.lineIndex(of: lineStart)]
    }

    /// True when byte `i` is a container marker (or the indentation before or after one) of its line.
    @inline(__always) func isMarker(_ i: Int) -> Bool {
        !starts.isEmpty && i < starts[lines.lineIndex(of: i)]
    }
}

/// Parsers for the parts of a Markdown link after its text: `(dest "title")` and `[label]: dest "title"`.
struct DestinationParser {
    let b: ByteView
    let content: LineContent
    /// Deepest parenthesis nesting accepted in a raw destination (as cmark does); keeps failing parses short.
    static let maxParenDepth = 32
    /// How many lines a wrapped URL may be broken into.
    static let maxWrappedLines = 8

    @inline(__always) func skipSpaces(_ i: Int, _ e: Int) -> Int {
        var i = i
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i
    }

    /// Skips one line ending at `i`, if there is one; returns nil when there is none.
    @inline(__always) func skipLineEnd(_ i: Int, _ e: Int) -> Int? {
        guard i < e else { return nil }
        if b[i] == ASCII.lf { return i + 1 }
        if b[i] == ASCII.cr { return i + 1 < e && b[i + 1] == ASCII.lf ? i + 2 : i + 1 }
        return nil
    }

    /// Skips a continuation line's container markers and indentation: `n` is the line's start.
    func skipContinuationPrefix(_ n: Int, _ e: Int) -> Int {
        skipSpaces(min(content.start(ofLineAt: n), e), e)
    }

    private func looksRemote(_ start: Int, _ e: Int) -> Bool {
        b.matchesCaseInsensitive("http://", at: start, end: e)
            || b.matchesCaseInsensitive("https://", at: start, end: e)
            || b.matches("//", at: start, end: e)
    }

    /// Parses `dest "title")` starting just after the `(` of an inline link or image. Returns the destination
    /// (nil span for `()`) and the position after the closing `)`.
    func parseInlineTail(from q: Int, end e: Int) -> (destination: Destination?, end: Int)? {
        var i = skipSpaces(q, e)
        if let n = skipLineEnd(i, e) { i = skipContinuationPrefix(n, e) }
        guard i < e else { return nil }
        if b[i] == ASCII.closeParen { return (nil, i + 1) }
        var destination: Destination
        if b[i] == ASCII.lessThan {
            guard let (d, after) = parsePointy(from: i, end: e) else { return nil }
            destination = d
            i = after
        } else {
            guard let (d, after) = parseRaw(from: i, end: e, inline: true) else { return nil }
            destination = d
            i = after
        }
        guard let after = parseTitleAndClose(from: i, end: e) else { return nil }
        return (destination, after)
    }

    /// `<...>`: no line endings (unless wrapped) and no unescaped `<`.
    private func parsePointy(from open: Int, end e: Int) -> (Destination, Int)? {
        var pieces: [Range<Int>] = []
        var pieceStart = open + 1
        var j = pieceStart
        while j < e {
            let c = b[j]
            if c == ASCII.backslash && j + 1 < e && ASCII.isPunctuation(b[j + 1]) {
                j += 2
            } else if c == ASCII.greaterThan {
                pieces.append(pieceStart..<j)
                let span = (open + 1)..<j
                return (Destination(span: span, pieces: pieces, wrapped: pieces.count > 1), j + 1)
            } else if c == ASCII.lessThan {
                return nil
            } else if ASCII.isLineEnd(c) {
                guard pieces.count < Self.maxWrappedLines, looksRemote(open + 1, e),
                    let n = skipLineEnd(j, e)
                else { return nil }
                pieces.append(pieceStart..<j)
                pieceStart = skipContinuationPrefix(n, e)
                j = pieceStart
            } else {
                j += 1
            }
        }
        return nil
    }

    /// A raw destination: no spaces, balanced parentheses. In an inline link, a URL that a converter broke across
    /// lines is joined when the first piece is a remote URL and the next line goes on with more URL.
    func parseRaw(from start: Int, end e: Int, inline: Bool) -> (Destination, Int)? {
        var pieces: [Range<Int>] = []
        var pieceStart = start
        var j = start
        var depth = 0
        while true {
            while j < e {
                let c = b[j]
                if c == ASCII.backslash && j + 1 < e && ASCII.isPunctuation(b[j + 1]) {
                    j += 2
                    continue
                }
                if c == ASCII.openBrace, j + 1 < e, b[j + 1] == ASCII.openBrace || b[j + 1] == 0x25,
                    let close = templateEnd(from: j, end: e)
                {
                    j = close  // `{{ site.url }}` is one piece of a templated URL, spaces and all
                    continue
                }
                if c <= ASCII.space || c == 0x7F { break }
                if c == ASCII.openParen {
                    depth += 1
                    if depth > Self.maxParenDepth { return nil }
                } else if c == ASCII.closeParen {
                    if depth == 0 { break }
                    depth -= 1
                }
                j += 1
            }
            if j > pieceStart { pieces.append(pieceStart..<j) }
            guard inline, j < e, !pieces.isEmpty else { break }
            // A line break inside the destination: either a title or `)` follows on the next line (valid
            // CommonMark), or the URL goes on (a wrapped URL).
            let k = skipSpaces(j, e)
            guard let n = skipLineEnd(k, e) else { break }
            let m = skipContinuationPrefix(n, e)
            guard m < e else { break }
            let c = b[m]
            if c == ASCII.quote || c == ASCII.apostrophe || c == ASCII.openParen || c == ASCII.closeParen
                || c <= ASCII.space
            {
                break
            }
            guard pieces.count < Self.maxWrappedLines, looksRemote(start, e) else { return nil }
            // A URL that already ends in an image file name is whole, as is one followed by a new URL.
            if looksRemote(m, e) || endsWithImageFileName(pieces[pieces.count - 1]) { break }
            pieceStart = m
            j = m
        }
        guard let first = pieces.first, let last = pieces.last, depth == 0 else { return nil }
        return (Destination(span: first.lowerBound..<last.upperBound, pieces: pieces, wrapped: pieces.count > 1), j)
    }

    /// True when `piece` ends in a file name with an image extension, with no query or fragment.
    private func endsWithImageFileName(_ piece: Range<Int>) -> Bool {
        let text = b.string(piece)
        return !text.contains("?") && !text.contains("#") && ImageFormat.hasImageExtension(url: text)
    }

    /// The position after the `}}` or `%}` closing a Liquid/Hugo template tag that opens at `j`, on the same
    /// line and within 200 bytes; nil otherwise.
    private func templateEnd(from j: Int, end e: Int) -> Int? {
        let closer: UInt8 = b[j + 1] == ASCII.openBrace ? ASCII.closeBrace : 0x25
        var k = j + 2
        while k + 1 < e, k - j < 200, !ASCII.isLineEnd(b[k]) {
            if b[k] == closer && b[k + 1] == ASCII.closeBrace { return k + 2 }
            k += 1
        }
        return nil
    }

    /// After a destination: optional whitespace (one line ending at most), an optional title, whitespace, `)`.
    private func parseTitleAndClose(from i: Int, end e: Int) -> Int? {
        var k = skipSpaces(i, e)
        if let n = skipLineEnd(k, e) { k = skipContinuationPrefix(n, e) }
        guard k < e else { return nil }
        if b[k] == ASCII.closeParen { return k + 1 }
        guard k > i, let afterTitle = skipTitle(from: k, end: e) else { return nil }
        k = skipSpaces(afterTitle, e)
        if let n = skipLineEnd(k, e) { k = skipContinuationPrefix(n, e) }
        guard k < e, b[k] == ASCII.closeParen else { return nil }
        return k + 1
    }

    /// A title in `"..."`, `'...'` or `(...)`; returns the position after it.
    func skipTitle(from k: Int, end e: Int) -> Int? {
        let open = b[k]
        let close: UInt8
        switch open {
        case ASCII.quote, ASCII.apostrophe: close = open
        case ASCII.openParen: close = ASCII.closeParen
        default: return nil
        }
        var j = k + 1
        while j < e {
            let c = b[j]
            if c == ASCII.backslash && j + 1 < e && ASCII.isPunctuation(b[j + 1]) {
                j += 2
            } else if c == close {
                return j + 1
            } else if open == ASCII.openParen && c == ASCII.openParen {
                return nil
            } else {
                j += 1
            }
        }
        return nil
    }

    /// A link reference definition `[label]: dest "title"` at `i`, the start of a paragraph's text that ends at
    /// `e`. The destination and the title may each start on the next line; a title that is not followed by the
    /// end of its line makes the definition end at its destination's line, if that line ends there. Returns the
    /// normalised label, the destination and the end of the definition's last line.
    func parseDefinition(from i: Int, end e: Int) -> (label: String, destination: Destination, end: Int)? {
        guard i < e, b[i] == ASCII.openBracket else { return nil }
        var j = i + 1
        var nonBlank = false
        while j < e, j - i <= 1000 {
            let c = b[j]
            if c == ASCII.backslash && j + 1 < e && ASCII.isPunctuation(b[j + 1]) {
                j += 2
                nonBlank = true
                continue
            }
            if c == ASCII.openBracket { return nil }
            if c == ASCII.closeBracket { break }
            if !ASCII.isWhitespace(c) { nonBlank = true }
            j += 1
        }
        guard nonBlank, j < e, b[j] == ASCII.closeBracket, j + 1 < e, b[j + 1] == ASCII.colon else { return nil }
        let label = normalizedLabel((i + 1)..<j)
        var k = skipSpaces(j + 2, e)
        if let n = skipLineEnd(k, e) { k = skipContinuationPrefix(n, e) }
        guard k < e, !ASCII.isLineEnd(b[k]) else { return nil }
        let destination: Destination
        if b[k] == ASCII.lessThan {
            guard let (d, after) = parsePointy(from: k, end: e), !d.wrapped else { return nil }
            destination = d
            k = after
        } else {
            guard let (d, after) = parseRaw(from: k, end: e, inline: false) else { return nil }
            destination = d
            k = after
        }
        let afterDestination = skipSpaces(k, e)
        let destinationLineEnd = afterDestination == e || ASCII.isLineEnd(b[afterDestination]) ? afterDestination : nil
        var t = afterDestination
        if let n = skipLineEnd(t, e) { t = skipContinuationPrefix(n, e) }
        if t > k, t < e, let afterTitle = skipTitle(from: t, end: e) {
            let z = skipSpaces(afterTitle, e)
            if z == e || ASCII.isLineEnd(b[z]) { return (label, destination, z) }
        }
        guard let end = destinationLineEnd else { return nil }
        return (label, destination, end)
    }

    /// `normalizeLabel` of the text in `range`; a label of ASCII words split by single spaces (most labels) is
    /// only lower-cased.
    func normalizedLabel(_ range: Range<Int>) -> String {
        var plain = !range.isEmpty && b[range.lowerBound] != ASCII.space && b[range.upperBound - 1] != ASCII.space
        var i = range.lowerBound
        while plain, i < range.upperBound {
            let c = b[i]
            plain = c >= ASCII.space && c < 0x80 && !(c == ASCII.space && b[i - 1] == ASCII.space)
            i += 1
        }
        return plain ? b.lowercasedString(range) : Self.normalizeLabel(b.string(range))
    }

    /// CommonMark label matching: case-folded, inner whitespace collapsed, trimmed.
    static func normalizeLabel(_ s: String) -> String {
        s.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
            .joined(separator: " ")
    }
}
