/// A run of post text that can hold references, and which syntax applies in it.
struct Chunk {
    enum Mode {
        /// Markdown with inline HTML.
        case markdown
        /// An HTML block where Markdown does not apply (`<pre>`, `<script>`, comments, ...): only tags are read.
        case html
        /// An HTML block of kind 6 or 7 (`<div>`, a lone tag): read as HTML, and its Markdown images too, although
        /// CommonMark does not render them (docs/scanning.md, "Choices").
        case htmlAndMarkdown
    }

    var range: Range<Int>
    var mode: Mode
}

/// The block structure pass, as CommonMark's: one walk over the lines keeps the open containers (block quotes
/// and list items, with tabs counted to the next multiple of 4 columns) and the open leaf block. Code (fenced
/// and indented) gives no chunk; paragraphs and headings give Markdown chunks, so no inline construct crosses
/// a block; HTML blocks of kinds 1 to 5 (`<script>`, `<pre>`, `<style>`, `<textarea>`, comments, `<?`, `<!X`,
/// CDATA) are read as HTML only, and those of kinds 6 and 7 (`<div>`, any lone tag) as Markdown, on purpose
/// (docs/scanning.md). Link reference definitions are read where a paragraph closes. Liquid `{% highlight %}`,
/// `{% raw %}`, `{% codeblock %}`, `{% code %}` and `{% comment %}` blocks are skipped. Each line is looked at a
/// bounded number of times (containers nest at most `maxDepth` deep), so the pass is linear in the post's size.
struct BlockPass {
    let b: ByteView
    let lines: LineTable
    private(set) var chunks: [Chunk] = []
    /// Link reference definitions by normalised label; the first definition of a label wins.
    private(set) var definitions: [String: Destination] = [:]
    /// Where the content of each line of a chunk starts, past its container markers.
    private(set) var content: LineContent

    /// Deepest nesting of block quotes and list items; deeper markers are text (markdown-it stops at 20 levels).
    static let maxDepth = 32

    private struct Container {
        /// A block quote, else a list item.
        var quote: Bool
        /// A list item's content column, relative to its parent's.
        var width: Int
        /// A list item continues over a blank line only once it holds something.
        var hasContent: Bool
    }

    private enum HTMLEnd {
        case blankLine
        case marker(StaticString)
        /// Kind 1 (`<script>`, `<pre>`, `<style>`, `<textarea>`): the end tag of any of the four.
        case rawTextEndTag
    }

    private enum Leaf {
        case none
        /// Its content from `start` to the end of its last line so far.
        case paragraph(start: Int)
        case fence(char: UInt8, length: Int)
        case indentedCode
        /// From its first byte: the inline pass reads it as a browser does (a comment, `<?`, `<!X` or CDATA is
        /// skipped to its end).
        case html(end: HTMLEnd, start: Int, mode: Chunk.Mode)
    }

    /// A position in a line: the byte and its column. A tab that is partly used up (a container took some of its
    /// columns) stays the current byte, with `col` inside it.
    private struct Cursor {
        var i: Int
        var col: Int
    }

    private var containers: [Container] = []
    private var leaf = Leaf.none
    /// The end of the last line the open leaf took.
    private var leafEnd = 0

    init(b: ByteView, lines: LineTable) {
        self.b = b
        self.lines = lines
        self.content = LineContent(lines: lines)
    }

    /// Runs the pass over the lines from the one that starts at `bodyStart`.
    mutating func run(from bodyStart: Int) {
        var k = lines.lineIndex(of: bodyStart)
        while k < lines.count {
            k = line(k)
        }
        closeLeaf()
    }

    /// Reads line `k`; returns the next line to read.
    private mutating func line(_ k: Int) -> Int {
        let s = lines.starts[k]
        let e = lines.ends[k]
        var c = Cursor(i: s, col: 0)
        // 1. Which open containers go on: `>` for a quote, the content column (or a blank line) for an item.
        var matched = 0
        while matched < containers.count {
            let f = firstNonSpace(c, e)
            let indent = f.col - c.col
            if containers[matched].quote {
                guard indent <= 3, f.i < e, b[f.i] == ASCII.greaterThan else { break }
                c = afterQuoteMarker(f, e)
                content.startRecording()
            } else if f.i == e {  // a blank line goes on an item that holds something, however indented
                guard containers[matched].hasContent else { break }
                c = f
            } else if indent >= containers[matched].width {
                advance(&c, columns: containers[matched].width, e)
            } else {
                break
            }
            matched += 1
        }
        let allMatched = matched == containers.count
        var f = firstNonSpace(c, e)
        var indent = f.col - c.col
        let blank = f.i == e
        // 2. A fence, an HTML block or indented code in the innermost container takes the line whole.
        switch leaf {
        case .fence(let char, let length) where allMatched:
            if indent <= 3, isFenceClosing(f.i, e, char: char, length: length) { leaf = .none }
            return k + 1
        case .html(let end, _, _) where allMatched:
            if case .blankLine = end, blank {
                closeLeaf()
                return k + 1
            }
            leafEnd = e
            content.record(k, c.i)
            if endsHTMLBlock(end, from: c.i, e) {
                closeLeaf()
            }
            return k + 1
        case .indentedCode where allMatched:
            if indent >= 4 || blank { return k + 1 }
            leaf = .none
        case .paragraph:
            break
        default:
            closeLeaf()  // code and HTML blocks have no lazy lines: their container closed
        }
        // 3. New blocks: containers, then at most one leaf.
        let maybeLazy: Bool
        if case .paragraph = leaf { maybeLazy = true } else { maybeLazy = false }
        var interruptsParagraph = maybeLazy && allMatched
        var opened: [Container] = []
        var newLeaf = Leaf.none
        var lineTaken = false  // a heading, a thematic break or a setext underline
        var endsOnFirstLine = false  // an HTML block
        while true {
            f = firstNonSpace(c, e)
            indent = f.col - c.col
            guard f.i < e else { break }
            if indent >= 4 {
                guard !(maybeLazy && opened.isEmpty) else { break }
                newLeaf = .indentedCode
                break
            }
            let depth = matched + opened.count
            let ch = b[f.i]
            // `>}}` closes a Hugo shortcode written over several lines (Hugo reads shortcodes before Markdown),
            // never a block quote: the shortcode's lines stay one chunk.
            if ch == ASCII.greaterThan && depth < Self.maxDepth && !b.matches(">}}", at: f.i, end: e) {
                c = afterQuoteMarker(f, e)
                content.startRecording()
                opened.append(Container(quote: true, width: 0, hasContent: false))
                interruptsParagraph = false
                continue
            }
            if isATXHeading(f.i, e) {
                addChunk(f.i..<e, .markdown)
                lineTaken = true
                break
            }
            if let fence = fenceOpening(f.i, e) {
                newLeaf = .fence(char: fence.char, length: fence.length)
                break
            }
            if ch == ASCII.lessThan,
                let (end, mode) = htmlBlockStart(f.i, e, interruptsParagraph: interruptsParagraph)
            {
                newLeaf = .html(end: end, start: f.i, mode: mode)
                endsOnFirstLine = endsHTMLBlock(end, from: f.i, e)
                break
            }
            if interruptsParagraph && isSetextUnderline(f.i, e) {
                lineTaken = true  // the paragraph is a heading: its content is read all the same
                break
            }
            if isThematicBreak(f.i, e) {
                lineTaken = true
                break
            }
            if depth < Self.maxDepth, let width = listItemStart(&c, f, e, interruptsParagraph: interruptsParagraph) {
                opened.append(Container(quote: false, width: width, hasContent: false))
                interruptsParagraph = false
                continue
            }
            break
        }
        let restBlank = f.i == e
        if opened.isEmpty, !lineTaken, case .none = newLeaf, !restBlank, maybeLazy {
            return paragraphLine(k, from: f.i, end: e)  // a continuation line, lazy when containers did not match
        }
        closeLeaf()
        containers.removeSubrange(matched...)
        containers += opened
        if restBlank {  // a blank line, or empty container markers: each opened one holds the next, the last nothing
            if !opened.isEmpty { for i in containers.indices.dropLast() { containers[i].hasContent = true } }
            return k + 1
        }
        for i in containers.indices { containers[i].hasContent = true }
        if case .none = newLeaf {
            if lineTaken { return k + 1 }
            leaf = .paragraph(start: f.i)
            return paragraphLine(k, from: f.i, end: e)
        }
        leaf = newLeaf
        leafEnd = e
        if endsOnFirstLine { closeLeaf() }
        return k + 1
    }

    /// Adds a line to the open paragraph (from `p`), skipping any Liquid block that starts in it.
    private mutating func paragraphLine(_ k: Int, from p: Int, end e: Int) -> Int {
        content.record(k, p)
        guard let (tagStart, name) = liquidBlockOpening(p, e) else {
            leafEnd = e
            return k + 1
        }
        leafEnd = tagStart
        closeLeaf()
        guard let after = liquidBlockEnd(name, from: tagStart, fileEnd: b.count) else { return lines.count }
        let m = lines.lineIndex(of: after)
        if after < lines.ends[m] {
            leaf = .paragraph(start: after)  // text after the end tag on its line
            return paragraphLine(m, from: after, end: lines.ends[m])
        }
        return m + 1
    }

    /// Ends the open leaf block: a paragraph gives its reference definitions and a chunk of the rest, an HTML
    /// block its chunk (what it leaves open in the page, the inline pass follows across chunks).
    private mutating func closeLeaf() {
        switch leaf {
        case .paragraph(let start):
            var p = start
            let parser = DestinationParser(b: b, content: content)
            while let (label, destination, end) = parser.parseDefinition(from: p, end: leafEnd) {
                if definitions[label] == nil { definitions[label] = destination }
                guard let next = parser.skipLineEnd(end, leafEnd) else {
                    p = leafEnd
                    break
                }
                p = parser.skipContinuationPrefix(next, leafEnd)
            }
            addChunk(p..<leafEnd, .markdown)
        case .html(_, let start, let mode):
            addChunk(start..<leafEnd, mode)
        default:
            break
        }
        leaf = .none
    }

    private mutating func addChunk(_ range: Range<Int>, _ mode: Chunk.Mode) {
        if !range.isEmpty { chunks.append(Chunk(range: range, mode: mode)) }
    }

    // MARK: Line anatomy

    /// The first byte that is not a space or tab from `c`, and its column.
    private func firstNonSpace(_ c: Cursor, _ e: Int) -> Cursor {
        var i = c.i
        var col = c.col
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
        return Cursor(i: i, col: col)
    }

    /// Moves `c` on by `n` columns; a tab wider than what is left is partly used up.
    private func advance(_ c: inout Cursor, columns n: Int, _ e: Int) {
        var n = n
        while n > 0, c.i < e {
            if b[c.i] == ASCII.tab {
                let width = 4 - c.col % 4
                if width > n {
                    c.col += n
                    return
                }
                c.col += width
                n -= width
            } else {
                c.col += 1
                n -= 1
            }
            c.i += 1
        }
    }

    /// After a `>` at `f`: past it and one optional space (a column of a tab).
    private func afterQuoteMarker(_ f: Cursor, _ e: Int) -> Cursor {
        var c = Cursor(i: f.i + 1, col: f.col + 1)
        if c.i < e, ASCII.isSpaceOrTab(b[c.i]) { advance(&c, columns: 1, e) }
        return c
    }

    /// A list item marker at `f` (`-`, `*`, `+`, `1.`, `1)`): moves `c` to the item's content and returns its
    /// content column relative to `c`'s column before. An item interrupting a paragraph must hold something and,
    /// if ordered, start at 1.
    private func listItemStart(_ c: inout Cursor, _ f: Cursor, _ e: Int, interruptsParagraph: Bool) -> Int? {
        let ch = b[f.i]
        var i = f.i
        if ch == ASCII.minus || ch == ASCII.star || ch == ASCII.plus {
            i += 1
        } else {
            while i < e, i - f.i < 9, ASCII.isDigit(b[i]) { i += 1 }
            guard i > f.i, i < e, b[i] == ASCII.dot || b[i] == ASCII.closeParen else { return nil }
            if interruptsParagraph && !(i - f.i == 1 && b[f.i] == 0x31) { return nil }
            i += 1
        }
        guard i == e || ASCII.isSpaceOrTab(b[i]) else { return nil }
        let markerWidth = i - f.i
        var after = Cursor(i: i, col: f.col + markerWidth)
        let rest = firstNonSpace(after, e)
        if interruptsParagraph && rest.i == e { return nil }
        let spaces = rest.col - after.col
        let start = c.col
        if rest.i == e || spaces >= 5 {
            advance(&after, columns: 1, e)  // the content starts one column after the marker
            c = after
            return f.col - start + markerWidth + 1
        }
        c = rest
        return f.col - start + markerWidth + spaces
    }

    private func isATXHeading(_ fp: Int, _ e: Int) -> Bool {
        var i = fp
        while i < e, b[i] == ASCII.hash, i - fp < 7 { i += 1 }
        return i > fp && i - fp <= 6 && (i == e || ASCII.isSpaceOrTab(b[i]))
    }

    /// `===` or `---` (any number), then only spaces and tabs.
    private func isSetextUnderline(_ fp: Int, _ e: Int) -> Bool {
        let ch = b[fp]
        guard ch == ASCII.equals || ch == ASCII.minus else { return false }
        var i = fp
        while i < e, b[i] == ch { i += 1 }
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i == e
    }

    /// Three or more `*`, `-` or `_`, with only spaces and tabs between.
    private func isThematicBreak(_ fp: Int, _ e: Int) -> Bool {
        let ch = b[fp]
        guard ch == ASCII.star || ch == ASCII.minus || ch == 0x5F else { return false }
        var count = 0
        for i in fp..<e {
            if b[i] == ch {
                count += 1
            } else if !ASCII.isSpaceOrTab(b[i]) {
                return false
            }
        }
        return count >= 3
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

    /// A closing fence at `fp` (indentation already checked): at least `length` of `char`, then only spaces.
    private func isFenceClosing(_ fp: Int, _ e: Int, char: UInt8, length: Int) -> Bool {
        var i = fp
        while i < e, b[i] == char { i += 1 }
        guard i - fp >= length else { return false }
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i == e
    }

    // MARK: HTML blocks

    /// An HTML block starting at `fp` (CommonMark's seven kinds): how it ends and how it is read. Kinds 1 to 5
    /// are read as HTML (a browser shows the `<img>`s of a `<pre>`, or after a comment on its last line; the HTML
    /// reader skips `<script>` and `<textarea>` as a browser does), kinds 6 and 7 as Markdown (a deliberate
    /// choice). Kind 7 (any lone complete tag) cannot interrupt a paragraph.
    private func htmlBlockStart(_ fp: Int, _ e: Int, interruptsParagraph: Bool) -> (HTMLEnd, Chunk.Mode)? {
        for tag in Self.rawTextBlocks where startsTag(tag, at: fp, end: e) { return (.rawTextEndTag, .html) }
        if b.matches("<!--", at: fp, end: e) { return (.marker("-->"), .html) }
        if b.matches("<?", at: fp, end: e) { return (.marker("?>"), .html) }
        if b.matches("<![CDATA[", at: fp, end: e) { return (.marker("]]>"), .html) }
        if fp + 2 < e, b[fp + 1] == ASCII.bang, ASCII.isLetter(b[fp + 2]) { return (.marker(">"), .html) }
        var i = fp + 1
        if i < e, b[i] == ASCII.slash { i += 1 }
        let nameStart = i
        while i < e, ASCII.isLetter(b[i]) || ASCII.isDigit(b[i]) { i += 1 }
        if i > nameStart, i - nameStart <= 10,
            i == e || ASCII.isSpaceOrTab(b[i]) || b[i] == ASCII.greaterThan
                || (b[i] == ASCII.slash && i + 1 < e && b[i + 1] == ASCII.greaterThan),
            Self.blockTagNames.contains(b.lowercasedString(nameStart..<i))
        {
            return (.blankLine, .htmlAndMarkdown)
        }
        guard !interruptsParagraph, let tagEnd = loneTagEnd(fp, e) else { return nil }
        var j = tagEnd
        while j < e, ASCII.isSpaceOrTab(b[j]) { j += 1 }
        return j == e ? (.blankLine, .htmlAndMarkdown) : nil
    }

    /// The end of a complete open tag (CommonMark's grammar) or closing tag at `fp`, other than the raw text tags.
    private func loneTagEnd(_ fp: Int, _ e: Int) -> Int? {
        if fp + 1 < e, b[fp + 1] == ASCII.slash {
            var i = fp + 2
            guard i < e, ASCII.isLetter(b[i]) else { return nil }
            while i < e, ASCII.isLetter(b[i]) || ASCII.isDigit(b[i]) || b[i] == ASCII.minus { i += 1 }
            while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
            return i < e && b[i] == ASCII.greaterThan ? i + 1 : nil
        }
        guard let tag = HTMLReader(b: b).tagExtent(at: fp, end: e),
            !Self.rawTextNames.contains(b.lowercasedString(tag.name))
        else { return nil }
        return tag.end
    }

    private static let rawTextBlocks: [StaticString] = ["<script", "<pre", "<style", "<textarea"]
    private static let rawTextEndTags: [StaticString] = ["</script>", "</pre>", "</style>", "</textarea>"]

    /// Whether the line from `i` to `e` holds the end of an HTML block that ends at a marker (CommonMark ends
    /// kind 1 at the end tag of any of its four elements: `<style>` ends at `</pre>` too).
    private func endsHTMLBlock(_ end: HTMLEnd, from i: Int, _ e: Int) -> Bool {
        switch end {
        case .blankLine:
            return false
        case .marker(let marker):
            return b.findCaseInsensitive(marker, from: i, end: e) != nil
        case .rawTextEndTag:
            var j = i
            while let open = b.find("</", from: j, end: e) {
                for tag in Self.rawTextEndTags where b.matchesCaseInsensitive(tag, at: open, end: e) { return true }
                j = open + 2
            }
            return false
        }
    }
    private static let rawTextNames: Set<String> = ["script", "pre", "style", "textarea"]

    /// CommonMark's block tag names (kind 6).
    private static let blockTagNames: Set<String> = [
        "address", "article", "aside", "base", "basefont", "blockquote", "body", "caption", "center", "col",
        "colgroup", "dd", "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html",
        "iframe", "legend", "li", "link", "main", "menu", "menuitem", "nav", "noframes", "ol", "optgroup",
        "option", "p", "param", "search", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead",
        "title", "tr", "track", "ul",
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
