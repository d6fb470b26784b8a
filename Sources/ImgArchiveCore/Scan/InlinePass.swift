/// A reference as found, before its URL is decoded and resolved.
struct RawReference {
    var kind: ImageReference.Kind
    /// The bytes to replace.
    var span: Range<Int>
    /// The pieces of the URL (several when wrapped).
    var pieces: [Range<Int>]
    var wrapped: Bool
    /// Markdown destinations take backslash escapes; HTML attributes and CSS do not.
    var backslashEscapes: Bool
    /// HTML and Markdown decode character references; CSS in a `<style>` block does not.
    var entities: Bool
    /// A width or height the markup asks for (`<img width>`, `{: width=}`, `|550`, `550w`).
    var hint: SizeHint
    /// A link that wraps no image: a reference only when its URL has an image sign (`CDNRules.isImageURL`).
    var needsImageSign = false
}

/// A size the markup around a reference asks for; it wins over the size in a CDN URL.
struct SizeHint {
    var width: Int?
    var height: Int?
}

/// The inline pass over one chunk: code spans, Markdown images and links (a delimiter stack, as CommonMark's
/// "look for link or image"), HTML tags, comments and autolinks. Everything it skips it skips once, so it is
/// linear in the chunk's size.
struct InlinePass {
    let b: ByteView
    let definitions: [String: Destination]
    /// Where each line's content starts: a `>` before it is a container marker, never the end of a construct.
    private let content: LineContent
    private let parser: DestinationParser
    private let html: HTMLReader
    private let templates: TemplateTags
    private(set) var found: [RawReference] = []
    /// Labels of reference definitions used by an image, with the first usage's size hint.
    private(set) var usedLabels: [String: SizeHint] = [:]
    private(set) var usedLabelOrder: [String] = []
    /// Labels of reference definitions used by a link, and whether one such link wraps an image.
    private(set) var linkLabels: [String: Bool] = [:]
    private(set) var linkLabelOrder: [String] = []
    /// Whether link targets are read (`link-images`).
    let linkImages: Bool
    /// Images found so far: a link whose text added one wraps an image.
    private var imagesSeen = 0
    /// An open `<a href>`: its target and the image count when it opened.
    private var openAnchor: (reference: RawReference, imagesBefore: Int)?
    /// Whether the references in tags are read (not in the Markdown reading of an HTML block).
    private var tagReferences = true
    /// The closer of a comment (`-->`) or raw text element (`</script`, `</style`, `</textarea`) that HTML passed
    /// through to the page left open at the end of its chunk: a browser shows nothing until it. (A `<?`, `<!X` or
    /// CDATA left open ends at the next `>`: the tag the renderer writes after its block.)
    private var hiddenCloser: StaticString?

    init(
        b: ByteView, content: LineContent, definitions: [String: Destination], templates: TemplateTags,
        linkImages: Bool = true
    ) {
        self.b = b
        self.content = content
        self.definitions = definitions
        self.linkImages = linkImages
        self.parser = DestinationParser(b: b, content: content)
        self.html = HTMLReader(b: b)
        self.templates = templates
    }

    mutating func scan(_ chunk: Chunk) {
        var range = chunk.range
        if let closer = hiddenCloser {
            // A browser shows nothing up to the closer, and only HTML that CommonMark passes through can hold it:
            // in Markdown, `-->` is text (`--&gt;`) unless it ends an inline comment.
            var from = range.lowerBound
            if chunk.mode == .markdown && closer.description == "-->" {
                guard let open = b.find("<!--", from: from, end: range.upperBound) else { return }
                from = open + 4
            }
            guard let close = b.findCaseInsensitive(closer, from: from, end: range.upperBound) else { return }
            range = (close + closer.utf8CodeUnitCount)..<range.upperBound
            hiddenCloser = nil
        }
        switch chunk.mode {
        case .markdown: scanMarkdown(range)
        case .html: scanHTML(range)
        case .htmlAndMarkdown:
            // The HTML reading finds the tags a browser sees; the Markdown reading only its images (a tag it would
            // read may be inside a `<?` or `<!X` that a browser ends at the first `>`).
            scanHTML(range)
            tagReferences = false
            scanMarkdown(range)
            tagReferences = true
        }
    }

    // MARK: Markdown

    private struct Opener {
        var position: Int  // of `[`
        var image: Bool
        var imagesBefore: Int
    }

    private mutating func scanMarkdown(_ range: Range<Int>) {
        let e = range.upperBound
        // Most chunks hold no backtick (one memchr): then they hold no code span.
        let codeSpans = b.find("`", from: range.lowerBound, end: e) == nil ? [] : findCodeSpans(range)
        var nextCode = 0
        var stack: [Opener] = []
        var inactiveBelow = 0  // link openers below this stack index are inactive (links do not nest)
        var p = range.lowerBound
        while p < e {
            if nextCode < codeSpans.count, p >= codeSpans[nextCode].lowerBound {
                if p < codeSpans[nextCode].upperBound { p = codeSpans[nextCode].upperBound }
                nextCode += 1
                continue
            }
            let c = b[p]
            switch c {
            case ASCII.backslash:
                p += (p + 1 < e && ASCII.isPunctuation(b[p + 1])) ? 2 : 1
            case ASCII.bang where p + 1 < e && b[p + 1] == ASCII.openBracket:
                stack.append(Opener(position: p + 1, image: true, imagesBefore: imagesSeen))
                p += 2
            case ASCII.openBracket:
                stack.append(Opener(position: p, image: false, imagesBefore: imagesSeen))
                p += 1
            case ASCII.closeBracket:
                guard let opener = stack.popLast() else {
                    p += 1
                    continue
                }
                if !opener.image && stack.count < inactiveBelow {
                    p += 1
                    continue
                }
                if let after = closeBracket(opener, at: p, end: e) {
                    if !opener.image { inactiveBelow = stack.count }
                    p = after
                    while nextCode < codeSpans.count, codeSpans[nextCode].upperBound <= p { nextCode += 1 }
                } else {
                    p += 1
                }
            case ASCII.lessThan:
                p = lessThan(at: p, end: e, markdown: true)
                while nextCode < codeSpans.count, codeSpans[nextCode].upperBound <= p { nextCode += 1 }
            case ASCII.openBrace:
                guard let (references, after) = templates.tag(at: p, end: e) else {
                    p += 1
                    continue
                }
                found.append(contentsOf: references)
                p = after
                while nextCode < codeSpans.count, codeSpans[nextCode].upperBound <= p { nextCode += 1 }
            default:
                // Plain text: skip to the next byte the switch handles, or to the next code span.
                let limit = nextCode < codeSpans.count ? min(e, codeSpans[nextCode].lowerBound) : e
                p = skipPlain(from: p + 1, to: limit)
            }
            if inactiveBelow > stack.count { inactiveBelow = stack.count }
        }
    }

    /// The first byte from `p` on (before `limit`) that `startsSomething`, read eight bytes at a time.
    @inline(__always)
    private func skipPlain(from p: Int, to limit: Int) -> Int {
        var p = p
        if let base = b.base.baseAddress {
            while p + 8 <= limit {
                let found = Self.somethingStarts(
                    UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)))
                if found != 0 { return p + found.trailingZeroBitCount / 8 }
                p += 8
            }
        }
        while p < limit && !Self.startsSomething(b[p]) { p += 1 }
        return p
    }

    /// The high bit of each byte of `w` (first byte lowest) that `startsSomething`. Every test adds to the low seven
    /// bits of each byte, so no carry crosses into the next byte; bytes with the high bit set are never such.
    @inline(__always)
    private static func somethingStarts(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high = ones &* 0x80
        let low = w & ~high
        /// The high bit of each byte of `low` equal to `c`.
        func equal(_ c: UInt8) -> UInt64 { ~((low ^ ones &* UInt64(c)) &+ ones &* 0x7F) & high }
        let brackets = (low &+ ones &* (0x80 - 0x5B)) & ~(low &+ ones &* (0x80 - 0x5E)) & high  // `[`, `\`, `]`
        return (brackets | equal(ASCII.bang) | equal(ASCII.lessThan) | equal(ASCII.openBrace)) & ~w
    }

    /// The bytes `scanMarkdown`'s switch does more with than step over. Prose is mostly bytes outside `!`...`]`
    /// (letters, spaces, UTF-8), so one range check settles most of them; `{` is the one byte above the range.
    @inline(__always)
    private static func startsSomething(_ c: UInt8) -> Bool {
        if c &- ASCII.bang > ASCII.closeBracket - ASCII.bang { return c == ASCII.openBrace }
        return c == ASCII.backslash || c == ASCII.bang || c == ASCII.openBracket || c == ASCII.closeBracket
            || c == ASCII.lessThan
    }

    /// At a `]` that closes `opener`: an image or a link, inline or by reference. Returns where to go on, or nil
    /// when the brackets are plain text.
    private mutating func closeBracket(_ opener: Opener, at close: Int, end e: Int) -> Int? {
        let textRange = (opener.position + 1)..<close
        if close + 1 < e, b[close + 1] == ASCII.openParen,
            let (destination, after) = parser.parseInlineTail(from: close + 2, end: e)
        {
            guard opener.image else {
                // A link: its destination is never an image, but may be the original an image links to.
                if linkImages, let d = destination {
                    found.append(
                        RawReference(
                            kind: .linkImage, span: d.span, pieces: d.pieces, wrapped: d.wrapped,
                            backslashEscapes: true, entities: true, hint: SizeHint(),
                            needsImageSign: imagesSeen == opener.imagesBefore))
                }
                return after
            }
            imagesSeen += 1
            var hint = obsidianHint(textRange)
            let (attributeHint, afterAttributes) = attributeListHint(after: after, end: e)
            if let w = attributeHint.width { hint.width = w }
            if let h = attributeHint.height { hint.height = h }
            if let d = destination {
                found.append(
                    RawReference(
                        kind: .markdownInline, span: d.span, pieces: d.pieces, wrapped: d.wrapped,
                        backslashEscapes: true, entities: true, hint: hint))
            }
            return afterAttributes
        }
        // Reference forms: [text][label], [text][], [text].
        var label = textRange
        var after = close + 1
        if close + 1 < e, b[close + 1] == ASCII.openBracket {
            var j = close + 2
            while j < e, b[j] != ASCII.closeBracket, b[j] != ASCII.openBracket, j - close <= 1000 {
                j += b[j] == ASCII.backslash ? 2 : 1
            }
            if j < e, b[j] == ASCII.closeBracket {
                if j > close + 2 { label = (close + 2)..<j }
                after = j + 1
            }
        }
        guard label.count <= 999, !definitions.isEmpty else { return nil }
        let key = parser.normalizedLabel(label)
        guard definitions[key] != nil else { return nil }
        guard opener.image else {
            // `[label]:` is the definition itself (the block pass keeps its line in the chunk), not a link.
            if linkImages, !(label == textRange && b.at(after) == ASCII.colon) {
                if linkLabels[key] == nil { linkLabelOrder.append(key) }
                linkLabels[key] = (linkLabels[key] ?? false) || imagesSeen > opener.imagesBefore
            }
            return after
        }
        imagesSeen += 1
        var hint = obsidianHint(textRange)
        let (attributeHint, afterAttributes) = attributeListHint(after: after, end: e)
        if let w = attributeHint.width { hint.width = w }
        if let h = attributeHint.height { hint.height = h }
        if usedLabels[key] == nil {
            usedLabels[key] = hint
            usedLabelOrder.append(key)
        }
        return afterAttributes
    }

    /// Obsidian's `![alt|550](url)` and `![alt|550x300](url)`.
    private func obsidianHint(_ alt: Range<Int>) -> SizeHint {
        var i = alt.upperBound
        while i > alt.lowerBound, ASCII.isDigit(b[i - 1]) || b[i - 1] == 0x78 { i -= 1 }
        guard i > alt.lowerBound, b[i - 1] == ASCII.pipe, i < alt.upperBound else { return SizeHint() }
        let parts = b.string(i..<alt.upperBound).split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count <= 2, let w = Int(parts[0]), w > 0 else { return SizeHint() }
        return SizeHint(width: w, height: parts.count == 2 ? Int(parts[1]) : nil)
    }

    /// kramdown `{: width="550"}` (after the image or on the next line) and Pandoc `{width=550px}`.
    private func attributeListHint(after: Int, end e: Int) -> (SizeHint, Int) {
        var i = after
        if i >= e || b[i] != ASCII.openBrace {
            // kramdown also takes a block attribute list on the next line.
            var j = parser.skipSpaces(i, e)
            guard let n = parser.skipLineEnd(j, e) else { return (SizeHint(), after) }
            j = parser.skipSpaces(n, e)
            guard j + 1 < e, b[j] == ASCII.openBrace, b[j + 1] == ASCII.colon else { return (SizeHint(), after) }
            i = j
        }
        var j = i + 1
        while j < e, b[j] != ASCII.closeBrace, !ASCII.isLineEnd(b[j]), j - i < 500 { j += 1 }
        guard j < e, b[j] == ASCII.closeBrace else { return (SizeHint(), after) }
        let attributes = html.attributes(in: (i + 1)..<j)
        var hint = SizeHint()
        for (name, value) in attributes {
            switch name {
            case "width": hint.width = HTMLReader.pixels(value)
            case "height": hint.height = HTMLReader.pixels(value)
            default: break
            }
        }
        return (hint, j + 1)
    }

    /// Code spans: a backtick run closes at the next run of the same length (CommonMark). A backslash escapes
    /// the first backtick of an opening run, never of a closing one (inside a code span it is text). Runs are
    /// collected once and paired with one cursor per run length, so this is linear.
    private func findCodeSpans(_ range: Range<Int>) -> [Range<Int>] {
        var runs: [(start: Int, length: Int, escaped: Bool)] = []
        var i = range.lowerBound
        let e = range.upperBound
        var escaped = false  // an odd run of backslashes ends just before `i`
        while i < e {
            let c = b[i]
            if c == ASCII.backslash {
                let s = i
                while i < e, b[i] == ASCII.backslash { i += 1 }
                escaped = (i - s) % 2 == 1
                continue
            }
            if c == ASCII.backtick {
                let s = i
                while i < e, b[i] == ASCII.backtick { i += 1 }
                runs.append((s, i - s, escaped))
            } else {
                i += 1
            }
            escaped = false
        }
        guard runs.count > 1 else { return [] }
        /// The run `k` as an opener: without its escaped first backtick.
        func opener(_ k: Int) -> (start: Int, length: Int) {
            runs[k].escaped ? (runs[k].start + 1, runs[k].length - 1) : (runs[k].start, runs[k].length)
        }
        var spans: [Range<Int>] = []
        if runs.count <= 32 {  // few runs (the usual case): pair them directly
            var k = 0
            while k < runs.count {
                let (start, length) = opener(k)
                if length > 0, let closer = runs[(k + 1)...].firstIndex(where: { $0.length == length }) {
                    spans.append(start..<(runs[closer].start + runs[closer].length))
                    k = closer + 1
                } else {
                    k += 1
                }
            }
            return spans
        }
        var byLength: [Int: [Int]] = [:]
        for (k, run) in runs.enumerated() { byLength[run.length, default: []].append(k) }
        var cursor: [Int: Int] = [:]
        var k = 0
        while k < runs.count {
            let (start, length) = opener(k)
            let candidates = byLength[length] ?? []
            var c = cursor[length] ?? 0
            while c < candidates.count, candidates[c] <= k { c += 1 }
            cursor[length] = c
            if c < candidates.count {
                let closer = candidates[c]
                spans.append(start..<(runs[closer].start + runs[closer].length))
                k = closer + 1
            } else {
                k += 1
            }
        }
        return spans
    }

    // MARK: HTML

    /// Raw inline HTML that starts with a bogus comment (`<?`, CDATA) and ends at `end`: the tags after the
    /// comment's `>` are read. Returns `end`.
    private mutating func rawInlineHTML(bogusCommentFrom from: Int, closer end: Int) -> Int {
        if let gt = nextCloser(2, ">", from: from, end: end) { scanHTML((gt + 1)..<end) }
        return end
    }

    /// The last search for each closer (`-->`, `?>`, `>`, `]]>`): from where, up to where, and what it found.
    private var closerMemo: [(from: Int, end: Int, hit: Int?)] = Array(repeating: (0, -1, nil), count: 4)

    /// The first `literal` at or after `from` that is not a container marker. Answers from the previous search for
    /// the same closer when it covers this one, so that many openers without a closer cost one search, not one each.
    private mutating func nextCloser(_ slot: Int, _ literal: StaticString, from: Int, end: Int) -> Int? {
        let last = closerMemo[slot]
        if last.end == end, last.from <= from, last.hit.map({ $0 >= from }) ?? true { return last.hit }
        var hit = b.find(literal, from: from, end: end)
        while let h = hit, content.isMarker(h) { hit = b.find(literal, from: h + 1, end: end) }
        closerMemo[slot] = (from, end, hit)
        return hit
    }

    private mutating func scanHTML(_ range: Range<Int>) {
        var p = range.lowerBound
        let e = range.upperBound
        while p < e {
            if b[p] == ASCII.lessThan {
                p = lessThan(at: p, end: e, markdown: false)
            } else {
                p += 1
            }
        }
    }

    /// Ends the open `<a href>`: its target is a reference when an image came before its end, or (checked later)
    /// when its URL has an image sign. An `<a>` never closed is judged by its URL alone.
    mutating func closeAnchor(atEnd: Bool = false) {
        guard var anchor = openAnchor?.reference, let before = openAnchor?.imagesBefore else { return }
        anchor.needsImageSign = atEnd || imagesSeen == before
        found.append(anchor)
        openAnchor = nil
    }

    /// At a `<`: a comment, a processing instruction, a declaration or CDATA (skipped: their text is not
    /// rendered), an autolink, a tag (reading `<img>`, `<source>`, `style=`, `<style>`), or text. In Markdown
    /// these follow CommonMark's raw HTML grammar; in an HTML block, a browser's (`<?` and `<!X` end at `>`).
    private mutating func lessThan(at p: Int, end e: Int, markdown: Bool) -> Int {
        // Unclosed, these are text in Markdown; in HTML a browser reads them to the end.
        let unclosed = markdown ? p + 1 : e
        if b.matches("<!--", at: p, end: e) {
            if b.at(p + 4) == ASCII.greaterThan { return p + 5 }  // `<!-->` and `<!--->` are empty comments
            if b.at(p + 4) == ASCII.minus && b.at(p + 5) == ASCII.greaterThan { return p + 6 }
            if let close = nextCloser(0, "-->", from: p + 4, end: e) { return close + 3 }
            if !markdown && tagReferences { hiddenCloser = "-->" }
            return unclosed
        }
        // `<?` and `<!X` (and CDATA, outside SVG) are bogus comments to a browser: they end at the first `>`. In
        // Markdown they are raw HTML only when CommonMark's closer (`?>`, `]]>`) follows.
        // In Markdown the raw HTML after that `>` up to CommonMark's closer is HTML, not Markdown.
        if b.matches("<?", at: p, end: e) {
            guard markdown else { return nextCloser(2, ">", from: p + 2, end: e).map { $0 + 1 } ?? e }
            guard let close = nextCloser(1, "?>", from: p + 2, end: e) else { return p + 1 }
            return rawInlineHTML(bogusCommentFrom: p + 2, closer: close + 2)
        }
        if b.matches("<![CDATA[", at: p, end: e) {
            guard markdown else { return nextCloser(2, ">", from: p + 2, end: e).map { $0 + 1 } ?? e }
            guard let close = nextCloser(3, "]]>", from: p + 9, end: e) else { return p + 1 }
            return rawInlineHTML(bogusCommentFrom: p + 9, closer: close + 3)
        }
        if p + 2 < e, b[p + 1] == ASCII.bang, ASCII.isLetter(b[p + 2]) {
            return nextCloser(2, ">", from: p + 2, end: e).map { $0 + 1 } ?? unclosed
        }
        if markdown, let after = html.autolinkEnd(at: p, end: e) { return after }
        if linkImages, b.at(p + 1) == ASCII.slash, ASCII.lower(b.at(p + 2)) == 0x61,
            b.at(p + 3) == ASCII.greaterThan || ASCII.isWhitespace(b.at(p + 3))
        {
            closeAnchor()
            return p + 3
        }
        guard let tag = html.tag(at: p, end: e) else { return p + 1 }
        if tagReferences { found.append(contentsOf: html.references(in: tag)) }
        switch tag.name {
        case "img":
            imagesSeen += 1
        case "a" where linkImages:
            closeAnchor()
            if let href = html.linkTarget(in: tag) { openAnchor = (href, imagesSeen) }
        default:
            break
        }
        switch tag.name {
        case "style":
            let close = b.findCaseInsensitive("</style", from: tag.end, end: e)
            if tagReferences {
                found.append(contentsOf: html.cssURLs(in: tag.end..<(close ?? e), entities: false))
                if close == nil { hiddenCloser = "</style" }
            }
            return close ?? e
        case "script", "textarea":
            let closer: StaticString = tag.name == "script" ? "</script" : "</textarea"
            let close = b.findCaseInsensitive(closer, from: tag.end, end: e)
            if close == nil && tagReferences { hiddenCloser = closer }
            return close ?? e
        default:
            return tag.end
        }
    }
}
