/// Front matter at the top of a post: YAML between `---` lines or TOML between `+++` lines.
struct FrontMatter {
    /// Where the Markdown body starts (0 when there is no front matter).
    var bodyStart: Int
    var references: [RawReference]
    var diagnostics: [ScanDiagnostic]

    /// Finds the front matter after the BOM (if any) and reads its image values: the configured fields, and
    /// every string at any depth that is a remote image URL.
    static func read(_ b: ByteView, lines: LineTable, contentStart: Int, selector: FrontMatterSelector)
        -> FrontMatter
    {
        var result = FrontMatter(bodyStart: contentStart, references: [], diagnostics: [])
        guard lines.count > 1 else { return result }
        let firstEnd = lines.ends[0]
        let marker: StaticString
        if isDelimiter(b, "---", contentStart, firstEnd) {
            marker = "---"
        } else if isDelimiter(b, "+++", contentStart, firstEnd) {
            marker = "+++"
        } else {
            return result
        }
        let toml = marker.utf8Start[0] == ASCII.plus
        var closing: Int?
        for k in 1..<lines.count {
            let s = lines.starts[k]
            let e = lines.ends[k]
            if isDelimiter(b, marker, s, e) || (!toml && isDelimiter(b, "...", s, e)) {
                closing = k
                break
            }
        }
        guard let close = closing else {
            result.diagnostics.append(
                ScanDiagnostic(
                    line: 1,
                    message: "front matter opened with \(marker) has no closing \(marker) line; "
                        + "the post was scanned as Markdown only: add the closing line"))
            return result
        }
        result.bodyStart = lines.next(close, fileEnd: b.count)
        let first = 1
        guard close > first else { return result }
        let textRange = lines.starts[first]..<lines.starts[close]
        // Cheap first: a block with no "//" (every remote URL has one) and no configured key holds no image.
        guard selector.mayHoldImages(b, textRange) else { return result }
        if toml {
            var reader = FrontMatterTOML(b: b, range: textRange, selector: selector)
            reader.run()
            result.references = reader.found
        } else {
            var reader = FrontMatterYAML(b: b, lines: lines, text: textRange, firstLine: first, selector: selector)
            reader.run()
            result.references = reader.found
            result.diagnostics = reader.diagnostics
        }
        return result
    }

    private static func isDelimiter(_ b: ByteView, _ marker: StaticString, _ s: Int, _ e: Int) -> Bool {
        guard b.matches(marker, at: s, end: e) else { return false }
        var i = s + 3
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i == e
    }

    static func frontMatterReference(_ span: Range<Int>) -> RawReference {
        RawReference(
            kind: .frontMatter, span: span, pieces: [span], wrapped: false, backslashEscapes: false, entities: false,
            hint: SizeHint())
    }
}
