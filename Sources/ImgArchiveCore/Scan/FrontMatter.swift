import Yams

/// Front matter at the top of a post: YAML between `---` lines or TOML between `+++` lines.
struct FrontMatter {
    /// Where the Markdown body starts (0 when there is no front matter).
    var bodyStart: Int
    var references: [RawReference]
    var diagnostics: [ScanDiagnostic]

    /// Finds the front matter after the BOM (if any) and reads the configured image fields from it.
    static func read(_ b: ByteView, lines: LineTable, contentStart: Int, fields: [String]) -> FrontMatter {
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
        if toml {
            result.references = readTOML(b, lines: lines, lineRange: first..<close, fields: Set(fields))
        } else {
            readYAML(b, lines: lines, text: textRange, firstLine: first, fields: fields, into: &result)
        }
        return result
    }

    private static func isDelimiter(_ b: ByteView, _ marker: StaticString, _ s: Int, _ e: Int) -> Bool {
        guard b.matches(marker, at: s, end: e) else { return false }
        var i = s + 3
        while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
        return i == e
    }

    private static func frontMatterReference(_ span: Range<Int>) -> RawReference {
        RawReference(
            kind: .frontMatter, span: span, pieces: [span], wrapped: false, backslashEscapes: false, entities: false,
            hint: SizeHint())
    }

    // MARK: YAML

    private static func readYAML(
        _ b: ByteView, lines: LineTable, text: Range<Int>, firstLine: Int, fields: [String],
        into result: inout FrontMatter
    ) {
        let yaml = b.string(text)
        let root: Node?
        do {
            // The encoding is given: Yams's default reads the process environment on every call.
            root = try Yams.compose(yaml: yaml, .default, .default, .utf8)
        } catch {
            result.diagnostics.append(
                ScanDiagnostic(
                    line: firstLine + 1,
                    message: "front matter is not valid YAML (\(oneLine(error))); its image fields were not "
                        + "scanned: fix the YAML"))
            return
        }
        guard let root else { return }
        for field in fields {
            let path = field.split(separator: ".").map(String.init)
            guard let node = lookup(root, path) else { continue }
            var scalars: [Node.Scalar] = []
            switch node {
            case .scalar(let s): scalars = [s]
            case .sequence(let seq): scalars = seq.compactMap { $0.scalar }
            default: continue
            }
            for scalar in scalars where !scalar.string.isEmpty {
                if let span = locate(scalar, b, lines: lines, firstLine: firstLine) {
                    result.references.append(frontMatterReference(span))
                } else {
                    let line = firstLine + (scalar.mark?.line ?? 1)
                    result.diagnostics.append(
                        ScanDiagnostic(
                            line: line,
                            message: "front matter field '\(field)' is written over several lines or with escapes; "
                                + "it was not scanned: write the URL on one line"))
                }
            }
        }
    }

    private static func lookup(_ node: Node, _ path: [String]) -> Node? {
        var current = node
        for key in path {
            guard case .mapping(let mapping) = current, let next = mapping[key] else { return nil }
            current = next
        }
        return current
    }

    /// The bytes of a scalar in the original text, found from its mark and checked against its value.
    private static func locate(_ scalar: Node.Scalar, _ b: ByteView, lines: LineTable, firstLine: Int) -> Range<Int>? {
        guard let mark = scalar.mark else { return nil }
        let line = firstLine + mark.line - 1
        guard line < lines.count else { return nil }
        let e = lines.ends[line]
        var i = lines.starts[line]
        var column = 1
        while column < mark.column, i < e {
            i += 1
            while i < e, b[i] & 0xC0 == 0x80 { i += 1 }
            column += 1
        }
        let value = Array(scalar.string.utf8)
        switch scalar.style {
        case .singleQuoted, .doubleQuoted:
            let q = b.at(i)
            guard q == ASCII.apostrophe || q == ASCII.quote else { return nil }
            var j = i + 1
            while j < e, b[j] != q {
                if b[j] == ASCII.backslash && q == ASCII.quote { return nil }
                j += 1
            }
            // An escaped quote ('' or \") means the value differs from its bytes: not located.
            guard j < e, j + 1 >= e || b[j + 1] != q, Array(b.base[(i + 1)..<j]) == value else { return nil }
            return (i + 1)..<j
        case .plain, .any:
            guard i + value.count <= e, Array(b.base[i..<(i + value.count)]) == value else { return nil }
            return i..<(i + value.count)
        default:
            return nil
        }
    }

    private static func oneLine(_ error: Error) -> String {
        String(describing: error).split(whereSeparator: { $0 == "\n" }).first.map(String.init) ?? "parse error"
    }

    // MARK: TOML

    /// A line-based reader for the TOML that front matter uses: `[table]` headers and `key = "string"` or
    /// `key = ["a", "b"]` values on one line. Multi-line strings and inline tables are not read.
    private static func readTOML(_ b: ByteView, lines: LineTable, lineRange: Range<Int>, fields: Set<String>)
        -> [RawReference]
    {
        var out: [RawReference] = []
        var table = ""
        for k in lineRange {
            let e = lines.ends[k]
            var i = lines.starts[k]
            while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
            guard i < e, b[i] != ASCII.hash else { continue }
            if b[i] == ASCII.openBracket {
                let name = b.string(i..<e).trimmingCharacters(in: "[] \t")
                table = name
                continue
            }
            guard let eq = b.find("=", from: i, end: e) else { continue }
            let key = b.string(i..<eq).trimmingCharacters(in: " \t\"'")
            let path = table.isEmpty ? key : table + "." + key
            guard fields.contains(path) else { continue }
            var j = eq + 1
            while j < e {
                let q = b[j]
                if q == ASCII.hash { break }
                guard q == ASCII.quote || q == ASCII.apostrophe else {
                    j += 1
                    continue
                }
                var t = j + 1
                while t < e, b[t] != q, b[t] != ASCII.backslash { t += 1 }
                guard t < e, b[t] == q else { break }
                if t > j + 1 { out.append(frontMatterReference((j + 1)..<t)) }
                j = t + 1
            }
        }
        return out
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}
