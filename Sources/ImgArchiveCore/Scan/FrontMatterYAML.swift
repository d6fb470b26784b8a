import Yams

/// YAML front matter, read as the site generators read it: with Yams, every string at any depth (lists and
/// nested mappings too) offered to the selector; duplicate keys keep the last (as Jekyll and Hexo do); YAML
/// that still fails is read line by line (`key: URL`, `- URL`) with one diagnostic.
struct FrontMatterYAML {
    let b: ByteView
    let lines: LineTable
    /// The bytes between the delimiter lines.
    let text: Range<Int>
    /// The line index of the first line of `text`.
    let firstLine: Int
    let selector: FrontMatterSelector
    private(set) var found: [RawReference] = []
    private(set) var diagnostics: [ScanDiagnostic] = []

    /// How many duplicate keys are dropped (one re-parse each) before the line reader takes over.
    private static let maxDuplicateRepairs = 8

    init(b: ByteView, lines: LineTable, text: Range<Int>, firstLine: Int, selector: FrontMatterSelector) {
        self.b = b
        self.lines = lines
        self.text = text
        self.firstLine = firstLine
        self.selector = selector
    }

    /// Whether front matter of plain `key: value` lines is read without Yams (`FrontMatterFlat`); tests turn it
    /// off to compare.
    var flatReading = true

    mutating func run() {
        if flatReading,
            let entries = FrontMatterFlat.entries(b, lines: lines, first: firstLine, end: firstLine + lineCount)
        {
            for entry in entries where selector.wants(path: b.string(entry.key), value: b.string(entry.value)) {
                found.append(FrontMatter.frontMatterReference(entry.value))
            }
            return
        }
        var yaml = Array(b.base[text])
        var repairs = 0
        while true {
            do {
                // The encoding is given: Yams's default reads the process environment on every call.
                let root = try Yams.compose(yaml: String(decoding: yaml, as: UTF8.self), .default, .default, .utf8)
                if let root { walk(root, path: []) }
                return
            } catch YamlError.duplicatedKeysInMapping(_, let context) where repairs < Self.maxDuplicateRepairs {
                // The generators keep the last of duplicate keys: blank the first (same bytes count, same line
                // breaks, so every later mark still points at the original bytes) and parse again.
                repairs += 1
                guard blankEntry(&yaml, line: context.mark.line, column: context.mark.column) else {
                    readLines(error: "duplicate key that could not be set aside", line: context.mark.line)
                    return
                }
            } catch {
                readLines(error: Self.oneLine(error), line: Self.line(of: error))
                return
            }
        }
    }

    // MARK: The parsed tree

    private mutating func walk(_ node: Node, path: [String]) {
        switch node {
        case .scalar(let scalar):
            let joined = path.joined(separator: ".")
            guard selector.wants(path: joined, value: scalar.string) else { return }
            if let span = locate(scalar) {
                found.append(FrontMatter.frontMatterReference(span))
            } else {
                diagnostics.append(
                    ScanDiagnostic(
                        line: firstLine + (scalar.mark?.line ?? 1),
                        message: "front matter value '\(joined)' is written over several lines or with escapes; "
                            + "it was not scanned: write the URL on one line"))
            }
        case .sequence(let sequence):
            for item in sequence { walk(item, path: path) }
        case .mapping(let mapping):
            for (key, value) in mapping { walk(value, path: path + [key.string ?? ""]) }
        case .alias:
            return
        }
    }

    /// The bytes of a scalar in the original text, found from its mark and checked against its value.
    private func locate(_ scalar: Node.Scalar) -> Range<Int>? {
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

    // MARK: Duplicate keys

    /// Blanks (with spaces, keeping line breaks) the mapping entry whose key starts at the 1-based `line` and
    /// `column` of `yaml`: the rest of the key's line and the lines below it that are more indented (or, for a
    /// key with no value on its line, list items at its own indentation). False when there is no such key.
    private func blankEntry(_ yaml: inout [UInt8], line: Int, column: Int) -> Bool {
        let index = firstLine + line - 1
        guard line >= 1, index < lines.count, index < firstLine + lineCount else { return false }
        let offset = text.lowerBound
        let s = lines.starts[index] - offset
        let e = lines.ends[index] - offset
        var i = s
        var c = 1
        while c < column, i < e {
            i += 1
            while i < e, yaml[i] & 0xC0 == 0x80 { i += 1 }
            c += 1
        }
        guard i < e, i - s == column - 1, yaml[s..<i].allSatisfy({ $0 == ASCII.space || $0 == ASCII.minus }) else {
            return false
        }
        let keyIndent = i - s
        // Whether the value continues below: nothing but a comment after the key's colon.
        var valueOnLine = false
        if let colon = yaml[i..<e].firstIndex(of: ASCII.colon) {
            var v = colon + 1
            while v < e, ASCII.isSpaceOrTab(yaml[v]) { v += 1 }
            valueOnLine = v < e && yaml[v] != ASCII.hash && yaml[v] != ASCII.pipe && yaml[v] != ASCII.greaterThan
        }
        for k in i..<e { yaml[k] = ASCII.space }
        var next = index + 1
        while next < firstLine + lineCount {
            let ls = lines.starts[next] - offset
            let le = lines.ends[next] - offset
            var j = ls
            while j < le, yaml[j] == ASCII.space { j += 1 }
            let blank = j == le || yaml[j] == ASCII.hash
            let indent = j - ls
            let listItem =
                !valueOnLine && indent == keyIndent && yaml[j] == ASCII.minus
                && (j + 1 == le || ASCII.isSpaceOrTab(yaml[j + 1]))
            guard blank || indent > keyIndent || listItem else { break }
            if !blank || indent > keyIndent { for k in ls..<le { yaml[k] = ASCII.space } }
            next += 1
        }
        return true
    }

    /// The number of lines in `text`.
    private var lineCount: Int { lines.lineIndex(of: max(text.lowerBound, text.upperBound - 1)) - firstLine + 1 }

    // MARK: The line reader

    /// Reads `key: value` and `- value` lines when the YAML cannot be parsed, so that the images are still
    /// found; says so once.
    private mutating func readLines(error: String, line: Int?) {
        let errorLine = firstLine + (line ?? 1)
        diagnostics.append(
            ScanDiagnostic(
                line: errorLine,
                message: "front matter is not valid YAML (\(error)); its image URLs were read line by line "
                    + "(key: URL and - URL): fix the YAML near line \(errorLine)"))
        for k in firstLine..<(firstLine + lineCount) {
            let e = lines.ends[k]
            var i = lines.starts[k]
            while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
            var key = ""
            if i + 1 < e, b[i] == ASCII.minus, ASCII.isSpaceOrTab(b[i + 1]) {
                i += 2
                while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
            }
            if let (name, after) = keyAt(i, e) {
                key = name
                i = after
            }
            guard i < e, let span = scalarSpan(i, e) else { continue }
            let value = b.string(span)
            if selector.rules.isImageURL(value) || (!key.isEmpty && selector.isFieldKey(key)) {
                found.append(FrontMatter.frontMatterReference(span))
            }
        }
    }

    /// A `key:` at `i` (plain or quoted, followed by a space or the line's end): its name and where its value
    /// starts.
    private func keyAt(_ i: Int, _ e: Int) -> (String, Int)? {
        var j = i
        var name: Range<Int>
        if j < e, b[j] == ASCII.quote || b[j] == ASCII.apostrophe {
            let q = b[j]
            j += 1
            while j < e, b[j] != q { j += 1 }
            guard j < e else { return nil }
            name = (i + 1)..<j
            j += 1
            guard j < e, b[j] == ASCII.colon else { return nil }
        } else {
            while j < e, !(b[j] == ASCII.colon && (j + 1 == e || ASCII.isSpaceOrTab(b[j + 1]))) {
                if b[j] == ASCII.hash || b[j] == ASCII.openBrace || b[j] == ASCII.openBracket { return nil }
                j += 1
            }
            guard j < e else { return nil }
            name = i..<j
        }
        j += 1
        while j < e, ASCII.isSpaceOrTab(b[j]) { j += 1 }
        return (b.string(name), j)
    }

    /// The bytes of a one-line scalar at `i`: inside quotes (nil with escapes), or plain up to a comment.
    private func scalarSpan(_ i: Int, _ e: Int) -> Range<Int>? {
        let c = b[i]
        if c == ASCII.quote || c == ASCII.apostrophe {
            var j = i + 1
            while j < e, b[j] != c {
                if b[j] == ASCII.backslash && c == ASCII.quote { return nil }
                j += 1
            }
            guard j < e, j > i + 1, j + 1 >= e || b[j + 1] != c else { return nil }
            return (i + 1)..<j
        }
        guard c != ASCII.openBracket, c != ASCII.openBrace, c != ASCII.pipe, c != ASCII.greaterThan,
            c != ASCII.hash, c != 0x26, c != ASCII.star
        else { return nil }
        var j = i
        while j < e, !(b[j] == ASCII.hash && ASCII.isSpaceOrTab(b[j - 1])) { j += 1 }
        while j > i, ASCII.isSpaceOrTab(b[j - 1]) { j -= 1 }
        return j > i ? i..<j : nil
    }

    // MARK: Errors

    private static func oneLine(_ error: any Error) -> String {
        String(describing: error).split(whereSeparator: { $0 == "\n" }).first.map(String.init) ?? "parse error"
    }

    /// The 1-based line (in the front matter) a Yams error points at.
    private static func line(of error: any Error) -> Int? {
        guard let error = error as? YamlError else { return nil }
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        case .duplicatedKeysInMapping(_, let context):
            return context.mark.line
        default:
            return nil
        }
    }
}
