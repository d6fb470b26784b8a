/// A run of post text that can hold references, and which syntax applies in it.
struct Chunk {
    enum Mode {
        /// Markdown with inline HTML.
        case markdown
        /// An HTML block where Markdown does not apply (`<pre>`): only tags are read.
        case html
        /// A `<style>` block: only CSS `url()`.
        case css
    }

    var range: Range<Int>
    var mode: Mode
}

/// The block structure pass: finds what is code (fenced and indented code blocks, HTML comments, `<script>`,
/// Liquid `{% highlight %}`/`{% raw %}`/`{% codeblock %}`/`{% comment %}` blocks) and cuts the rest into
/// chunks that end at blank lines, so no inline construct crosses a paragraph. It also collects link reference
/// definitions. Each line is looked at a bounded number of times, so the pass is linear in the post's size.
struct BlockPass {
    let b: ByteView
    let lines: LineTable
    private(set) var chunks: [Chunk] = []
    /// Link reference definitions by normalised label; the first definition of a label wins.
    private(set) var definitions: [String: Destination] = [:]

    private var chunkStart: Int?
    private var chunkMode = Chunk.Mode.markdown

    init(b: ByteView, lines: LineTable) {
        self.b = b
        self.lines = lines
    }

    private mutating func closeChunk(at pos: Int) {
        if let s = chunkStart, pos > s { chunks.append(Chunk(range: s..<pos, mode: chunkMode)) }
        chunkStart = nil
    }

    private mutating func openChunk(at pos: Int) {
        if chunkStart == nil {
            chunkStart = pos
            chunkMode = .markdown
        }
    }

    /// Runs the pass over the lines from the one that starts at `bodyStart`.
    mutating func run(from bodyStart: Int) {
        let fileEnd = b.count
        let parser = DestinationParser(b: b)
        var k = lines.lineIndex(of: bodyStart)
        var paragraphOpen = false
        var afterBlank = true
        var listIndent: Int?
        var resumeAt: Int?  // within line k: text after a Liquid end tag
        while k < lines.count {
            let s = resumeAt ?? lines.starts[k]
            resumeAt = nil
            let e = lines.ends[k]
            let p = skipQuoteMarkers(s, e)
            let (indent, fp) = indentation(p, e)
            if fp == e {
                closeChunk(at: s)
                paragraphOpen = false
                afterBlank = true
                k += 1
                continue
            }
            let marker = listMarkerWidth(fp, e)
            if let li = listIndent, indent < li, afterBlank, marker == nil { listIndent = nil }
            let base = listIndent ?? 0
            if indent >= base + 4 && !paragraphOpen {
                closeChunk(at: s)  // indented code
                afterBlank = false
                k += 1
                continue
            }
            if indent <= base + 3, let fence = fenceOpening(fp, e) {
                closeChunk(at: s)
                var m = k + 1
                while m < lines.count && !isFenceClosing(m, fence) { m += 1 }
                k = m + 1
                paragraphOpen = false
                afterBlank = false
                continue
            }
            if indent <= base + 3, b[fp] == ASCII.lessThan, let skipTo = htmlBlock(at: s, firstNonSpace: fp, line: k) {
                k = skipTo
                paragraphOpen = false
                afterBlank = false
                continue
            }
            if let (tagStart, name) = liquidBlockOpening(fp, e) {
                openChunk(at: s)
                closeChunk(at: tagStart)
                guard let after = liquidBlockEnd(name, from: tagStart, fileEnd: fileEnd) else { break }
                k = lines.lineIndex(of: after)
                if after >= lines.ends[k] {
                    k += 1
                } else {
                    resumeAt = after
                    openChunk(at: after)
                }
                paragraphOpen = true
                afterBlank = false
                continue
            }
            openChunk(at: s)
            var isDefinition = false
            if !paragraphOpen, let (label, destination) = parser.parseDefinition(from: fp, lineEnd: e, fileEnd: fileEnd)
            {
                isDefinition = true
                if definitions[label] == nil { definitions[label] = destination }
            }
            if let width = marker { listIndent = indent + width }
            paragraphOpen = !isDefinition && !isATXHeading(fp, e)
            afterBlank = false
            k += 1
        }
        closeChunk(at: fileEnd)
    }

    // MARK: Line anatomy

    /// Skips blockquote markers (`>` with up to three spaces before and one after).
    private func skipQuoteMarkers(_ s: Int, _ e: Int) -> Int {
        var p = s
        while true {
            var q = p
            while q < e, q - p < 3, b[q] == ASCII.space { q += 1 }
            guard q < e, b[q] == ASCII.greaterThan else { return p }
            q += 1
            if q < e, b[q] == ASCII.space { q += 1 }
            p = q
        }
    }

    /// The indentation in columns (tabs to the next multiple of 4) and the first non-blank position.
    private func indentation(_ p: Int, _ e: Int) -> (Int, Int) {
        var col = 0
        var i = p
        while i < e {
            if b[i] == ASCII.space {
                col += 1
            } else if b[i] == ASCII.tab {
                col += 4 - col % 4
            } else {
                break
            }
            i += 1
        }
        return (col, i)
    }

    /// The width of a list marker and its following space (`- `, `* `, `+ `, `1. `, `1) `), or nil.
    private func listMarkerWidth(_ fp: Int, _ e: Int) -> Int? {
        let c = b[fp]
        if c == ASCII.minus || c == ASCII.star || c == ASCII.plus {
            if fp + 1 == e { return 2 }
            return ASCII.isSpaceOrTab(b[fp + 1]) ? 2 : nil
        }
        var i = fp
        while i < e, i - fp < 9, ASCII.isDigit(b[i]) { i += 1 }
        guard i > fp, i < e, b[i] == ASCII.dot || b[i] == ASCII.closeParen else { return nil }
        if i + 1 == e { return i + 2 - fp }
        return ASCII.isSpaceOrTab(b[i + 1]) ? i + 2 - fp : nil
    }

    private func isATXHeading(_ fp: Int, _ e: Int) -> Bool {
        var i = fp
        while i < e, b[i] == ASCII.hash, i - fp < 7 { i += 1 }
        return i > fp && i - fp <= 6 && (i == e || ASCII.isSpaceOrTab(b[i]))
    }

    // MARK: Fenced code

    private struct Fence {
        var char: UInt8
        var length: Int
    }

    private func fenceOpening(_ fp: Int, _ e: Int) -> Fence? {
        let c = b[fp]
        guard c == ASCII.backtick || c == ASCII.tilde else { return nil }
        var i = fp
        while i < e, b[i] == c { i += 1 }
        guard i - fp >= 3 else { return nil }
        if c == ASCII.backtick {
            var j = i
            while j < e {
                if b[j] == ASCII.backtick { return nil }
                j += 1
            }
        }
        return Fence(char: c, length: i - fp)
    }

    private func isFenceClosing(_ line: Int, _ fence: Fence) -> Bool {
        let e = lines.ends[line]
        let p = skipQuoteMarkers(lines.starts[line], e)
        let (_, fp) = indentation(p, e)
        var i = fp
        while i < e, b[i] == fence.char { i += 1 }
        guard i - fp >= fence.length else { return false }
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i == e
    }

    // MARK: HTML blocks

    /// HTML blocks that change what is read: comments and `<script>`/`<textarea>` are skipped, `<pre>` is read
    /// as HTML only, `<style>` as CSS. Returns the index of the line after the block, or nil for other HTML.
    private mutating func htmlBlock(at s: Int, firstNonSpace fp: Int, line k: Int) -> Int? {
        let fileEnd = b.count
        let e = lines.ends[k]
        if b.matches("<!--", at: fp, end: e) {
            closeChunk(at: s)
            guard let close = b.find("-->", from: fp + 4, end: fileEnd) else { return lines.count }
            return lines.lineIndex(of: close) + 1
        }
        for (tag, closing, mode) in Self.specialBlocks where startsTag(tag, at: fp, end: e) {
            closeChunk(at: s)
            let close = b.findCaseInsensitive(closing, from: fp, end: fileEnd)
            let lastLine = close.map { lines.lineIndex(of: $0) } ?? lines.count - 1
            if let mode {
                chunks.append(Chunk(range: s..<lines.ends[lastLine], mode: mode))
            }
            return lastLine + 1
        }
        return nil
    }

    private static let specialBlocks: [(StaticString, StaticString, Chunk.Mode?)] = [
        ("<script", "</script>", nil), ("<textarea", "</textarea>", nil),
        ("<pre", "</pre>", .html), ("<style", "</style>", .css),
    ]

    /// `<name` followed by whitespace, `>` or the end of the line.
    private func startsTag(_ tag: StaticString, at i: Int, end e: Int) -> Bool {
        guard b.matchesCaseInsensitive(tag, at: i, end: e) else { return false }
        let j = i + tag.utf8CodeUnitCount
        return j == e || ASCII.isWhitespace(b[j]) || b[j] == ASCII.greaterThan
    }

    // MARK: Liquid

    private static let liquidBlocks = ["highlight", "raw", "codeblock", "code", "comment"]

    /// A Liquid block tag whose content is code (or not rendered): its start and name.
    private func liquidBlockOpening(_ fp: Int, _ e: Int) -> (Int, String)? {
        var i = fp
        while let open = b.find("{%", from: i, end: e) {
            if let name = liquidTagName(at: open, end: e), Self.liquidBlocks.contains(name) { return (open, name) }
            i = open + 2
        }
        return nil
    }

    private func liquidTagName(at open: Int, end e: Int) -> String? {
        var i = open + 2
        if i < e, b[i] == ASCII.minus { i += 1 }
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        let start = i
        while i < e, ASCII.isLetter(b[i]) || b[i] == 0x5F { i += 1 }
        return i > start ? b.string(start..<i) : nil
    }

    /// The position after `{% end<name> %}`, or nil when the block never ends (then it runs to the end).
    private func liquidBlockEnd(_ name: String, from start: Int, fileEnd: Int) -> Int? {
        var i = start + 2
        let endName = "end" + name
        while let open = b.find("{%", from: i, end: fileEnd) {
            if liquidTagName(at: open, end: fileEnd) == endName, let close = b.find("%}", from: open + 2, end: fileEnd)
            {
                return close + 2
            }
            i = open + 2
        }
        return nil
    }
}
