/// Site-generator template tags in Markdown text: Hugo shortcodes (`{{< name params >}}`, `{{% name params %}}`),
/// Hexo tag plugins (`{% img class URL 600 400 "title" %}`), Jekyll includes (`{% include image.html url="…" %}`)
/// and Liquid tags (`{% picture … %}`, `{% responsive_image path: … %}`, any other `{% name … %}`).
///
/// A parameter is a reference when its tag names it (the `templates` option: `figure: [src]`; positional
/// parameters are named `0`, `1`, … in order), when the tag's own grammar says it is the image (Hexo's `img`,
/// `asset_img`; a `picture` path that is a URL), or, for any tag at all, when its value is a remote URL with an
/// image sign (`CDNRules.isImageURL`). A reference's span is the value's bytes inside its quotes.
///
/// Linear time: a Hugo tag may not contain `{{<` or `{{%` and a Liquid tag may not contain `{%` (not even in
/// quotes), so the text read for the tags of one family never overlaps, whether they close or not.
struct TemplateTags {
    let b: ByteView
    let templates: [String: Set<String>]
    let cdnRules: CDNRules

    /// Liquid tags whose parameters are logic, never images: comparing with a URL is not showing it.
    private static let logicTags: Set<String> = [
        "if", "elsif", "unless", "case", "when", "for", "tablerow", "cycle", "break", "continue", "else",
    ]
    /// Hexo tags with the `img` grammar: `[class names] URL [width [height]] [title [alt]]`.
    private static let hexoImageTags: Set<String> = ["img", "image", "figure"]
    /// Hexo tags whose image is a post asset (a file name, not a URL).
    private static let hexoAssetTags: Set<String> = ["asset_img", "asset_image"]

    enum Family {
        /// `{{< … >}}` or `{{% … %}}`: the byte before `}}`.
        case hugo(UInt8)
        /// `{% … %}` or `{%- … -%}`.
        case liquid
    }

    /// One parameter: its name (`src` of `src="x"`, `path` of `path: x`), and its value inside any quotes.
    struct Parameter {
        var name: Range<Int>?
        var value: Range<Int>
        var quoted: Bool
    }

    /// At a `{`: when a tag starts here, the references in it and the position after it; nil when this is text.
    func tag(at p: Int, end e: Int) -> (found: [RawReference], end: Int)? {
        guard p + 2 < e, b[p] == ASCII.openBrace else { return nil }
        let family: Family
        var i: Int
        if b[p + 1] == ASCII.openBrace, b[p + 2] == ASCII.lessThan || b[p + 2] == ASCII.percent {
            family = .hugo(b[p + 2] == ASCII.lessThan ? ASCII.greaterThan : ASCII.percent)
            i = p + 3
            var j = i
            while j < e, ASCII.isWhitespace(b[j]) { j += 1 }
            if j + 1 < e, b[j] == ASCII.slash, b[j + 1] == ASCII.star {  // {{</* … */>}} is text
                guard let after = escapedEnd(from: j + 2, end: e, family: family) else { return nil }
                return ([], after)
            }
        } else if b[p + 1] == ASCII.percent {
            family = .liquid
            i = p + 2
            if b[i] == ASCII.minus { i += 1 }
        } else {
            return nil
        }
        guard let (parameters, after) = parameters(from: i, end: e, family: family),
            let first = parameters.first, first.name == nil, !first.quoted, !first.value.isEmpty
        else { return nil }
        let name = b.string(first.value)
        let rest = parameters.dropFirst()
        switch family {
        case .hugo:
            if name.hasPrefix("/") { return ([], after) }  // a closing shortcode
            return (references(rest, configured: templates[name] ?? []), after)
        case .liquid:
            return (liquidReferences(name: name, rest), after)
        }
    }

    // MARK: What is an image

    private func liquidReferences(name: String, _ rest: ArraySlice<Parameter>) -> [RawReference] {
        if Self.logicTags.contains(name) { return [] }
        if name == "include" || name == "include_relative" {
            guard let file = rest.first, file.name == nil, !file.value.isEmpty else { return [] }
            return references(
                rest.dropFirst(), configured: templates[b.string(file.value)] ?? [], bareIsVariable: true)
        }
        var forced: Set<Int> = []
        var hint = SizeHint()
        if Self.hexoImageTags.contains(name) || Self.hexoAssetTags.contains(name) {
            // Hexo: class names up to the image, then a width and a height when they are numbers.
            let asset = Self.hexoAssetTags.contains(name)
            let positional = rest.indices.filter { rest[$0].name == nil }
            if let k = positional.firstIndex(where: { isHexoImage(rest[$0].value, asset: asset) }) {
                forced.insert(positional[k])
                let sizes = positional[(k + 1)...].prefix { isHexoSize(rest[$0]) }.prefix(2).map {
                    HTMLReader.pixels(b.string(rest[$0].value))
                }
                if sizes.count > 0 { hint.width = sizes[0] }
                if sizes.count > 1 { hint.height = sizes[1] }
            }
        } else if name == "picture" {
            // jekyll_picture_tag: `{% picture [preset] path [media: path] [--attributes] %}`: every URL is an image.
            for k in rest.indices where URLText.resolve(Array(b.base[rest[k].value])).remote { forced.insert(k) }
        }
        return references(rest, configured: templates[name] ?? [], forced: forced, hint: hint)
    }

    /// Hexo's test for the image argument: a URL with a scheme or `www.`, or a path from the root. For
    /// `asset_img`, the first argument that names a file.
    private func isHexoImage(_ value: Range<Int>, asset: Bool) -> Bool {
        let text = b.string(value)
        if asset { return text.contains(".") && !text.hasPrefix(".") }
        return text.hasPrefix("/") || text.contains("://") || text.lowercased().hasPrefix("www.")
    }

    /// A positional width or height: digits, with `px` or `%`.
    private func isHexoSize(_ parameter: Parameter) -> Bool {
        guard !parameter.value.isEmpty, ASCII.isDigit(b[parameter.value.lowerBound]) else { return false }
        var text = Substring(b.string(parameter.value))
        if text.hasSuffix("%") {
            text = text.dropLast()
        } else if text.lowercased().hasSuffix("px") {
            text = text.dropLast(2)
        }
        return text.allSatisfy(\.isASCII) && Int(text) != nil
    }

    /// The references among `parameters`: those `configured` by name (positional ones are named `0`, `1`, …)
    /// or `forced` by the tag's grammar, whatever their value; any other whose value is a remote image URL. The
    /// width is a `width` parameter's, else `hint`'s; it goes to the named images, or to all when none is named.
    /// With `bareIsVariable`, an unquoted value without a `/` is a variable's name, not an image.
    private func references(
        _ parameters: ArraySlice<Parameter>, configured: Set<String>, forced: Set<Int> = [],
        hint: SizeHint = SizeHint(), bareIsVariable: Bool = false
    ) -> [RawReference] {
        var hint = hint
        var keys: [String] = []
        var position = 0
        for parameter in parameters {
            guard let name = parameter.name else {
                keys.append(String(position))
                position += 1
                continue
            }
            let key = b.string(name)
            keys.append(key)
            if key == "width", let w = HTMLReader.pixels(b.string(parameter.value)) { hint.width = w }
            if key == "height", let h = HTMLReader.pixels(b.string(parameter.value)) { hint.height = h }
        }
        // The size belongs to the tag's image: when the tag names its image parameters, other image URLs in it
        // (a figure's `link` to the full size) are shown at no size the tag says.
        // In a Jekyll include, `url=page.image` passes a variable, not a path.
        func isVariable(_ p: Parameter) -> Bool {
            bareIsVariable && !p.quoted && !b.base[p.value].contains(ASCII.slash)
        }
        let named = zip(parameters.indices, keys).map { k, key in
            forced.contains(k) || (configured.contains(key) && !isVariable(parameters[k]))
        }
        let anyNamed = named.contains(true)
        var found: [RawReference] = []
        for (k, sure) in zip(parameters.indices, named) {
            for item in items(parameters[k].value) {
                guard sure || isRemoteImage(item) else { continue }
                found.append(
                    RawReference(
                        kind: .template, span: item, pieces: [item], wrapped: false, backslashEscapes: false,
                        entities: false, hint: sure || !anyNamed ? hint : SizeHint()))
            }
        }
        return found
    }

    private func isRemoteImage(_ item: Range<Int>) -> Bool {
        // Cheap first: only a value that starts like a URL is resolved and looked up.
        let c = b[item.lowerBound]
        guard c == 0x68 || c == 0x48 || c == ASCII.slash else { return false }  // h, H, /
        let resolved = URLText.resolve(Array(b.base[item]))
        return resolved.remote && cdnRules.isImageURL(resolved.url)
    }

    /// The URLs in a value: the value itself, or, when it lists several URLs (a gallery's
    /// `images="https://a/1.jpg, https://a/2.jpg"`), each of them. A list is split at whitespace, and at commas
    /// followed by a URL (Cloudinary's `w_300,h_200` stays whole).
    private func items(_ value: Range<Int>) -> [Range<Int>] {
        guard !value.isEmpty else { return [] }
        var pieces: [Range<Int>] = []
        var start = value.lowerBound
        var i = value.lowerBound
        func startsURL(_ j: Int) -> Bool {
            b.matchesCaseInsensitive("http://", at: j, end: value.upperBound)
                || b.matchesCaseInsensitive("https://", at: j, end: value.upperBound)
                || b.matches("//", at: j, end: value.upperBound)
        }
        while i < value.upperBound {
            let c = b[i]
            var cut = ASCII.isWhitespace(c)
            if c == ASCII.comma {
                var j = i + 1
                while j < value.upperBound, ASCII.isWhitespace(b[j]) { j += 1 }
                cut = startsURL(j)
            }
            if cut {
                if i > start { pieces.append(start..<i) }
                start = i + 1
            }
            i += 1
        }
        if value.upperBound > start { pieces.append(start..<value.upperBound) }
        guard pieces.count > 1 else { return pieces }
        return pieces.filter { startsURL($0.lowerBound) }.count > 1 ? pieces : [value]
    }

    // MARK: Reading a tag

    /// The position after the closer that ends the tag at `i`, or nil.
    @inline(__always)
    private func closer(at i: Int, end e: Int, family: Family) -> Int? {
        switch family {
        case .hugo(let c):
            return i + 2 < e && b[i] == c && b[i + 1] == ASCII.closeBrace && b[i + 2] == ASCII.closeBrace ? i + 3 : nil
        case .liquid:
            if i + 1 < e, b[i] == ASCII.percent, b[i + 1] == ASCII.closeBrace { return i + 2 }
            if i + 2 < e, b[i] == ASCII.minus, b[i + 1] == ASCII.percent, b[i + 2] == ASCII.closeBrace { return i + 3 }
            return nil
        }
    }

    /// The opener of another tag of the same family, where a tag that has not closed yet gives up.
    @inline(__always)
    private func opener(at i: Int, end e: Int, family: Family) -> Bool {
        guard i + 1 < e, b[i] == ASCII.openBrace else { return false }
        switch family {
        case .hugo:
            return i + 2 < e && b[i + 1] == ASCII.openBrace
                && (b[i + 2] == ASCII.lessThan || b[i + 2] == ASCII.percent)
        case .liquid: return b[i + 1] == ASCII.percent
        }
    }

    /// After the `/*` of an escaped shortcode: the position after `*/>}}`, or nil.
    private func escapedEnd(from start: Int, end e: Int, family: Family) -> Int? {
        var i = start
        while i + 1 < e {
            if b[i] == ASCII.star, b[i + 1] == ASCII.slash {
                var j = i + 2
                while j < e, ASCII.isWhitespace(b[j]) { j += 1 }
                if let after = closer(at: j, end: e, family: family) { return after }
            }
            if opener(at: i, end: e, family: family) { return nil }
            i += 1
        }
        return nil
    }

    @inline(__always)
    private func isQuote(_ c: UInt8, family: Family) -> Bool {
        if c == ASCII.quote || c == ASCII.apostrophe { return true }
        if case .hugo = family { return c == ASCII.backtick }
        return false
    }

    @inline(__always)
    private func isNameByte(_ c: UInt8) -> Bool {
        ASCII.isLetter(c) || ASCII.isDigit(c) || c == 0x5F || c == ASCII.minus
    }

    /// The parameters from `start` to the tag's closer, and the position after it; nil when the tag does not
    /// close before `e` or before the opener of another tag.
    private func parameters(from start: Int, end e: Int, family: Family) -> ([Parameter], Int)? {
        var found: [Parameter] = []
        var i = start
        while true {
            while i < e, ASCII.isWhitespace(b[i]) { i += 1 }
            guard i < e else { return nil }
            if let after = closer(at: i, end: e, family: family) { return (found, after) }
            if opener(at: i, end: e, family: family) { return nil }
            if case .hugo = family, b[i] == ASCII.slash, closer(at: i + 1, end: e, family: family) != nil {
                i += 1  // self-closing: {{< name />}}
                continue
            }
            if isQuote(b[i], family: family) {
                guard let (value, after) = quoted(at: i, end: e, family: family) else { return nil }
                found.append(Parameter(name: nil, value: value, quoted: true))
                i = after
                continue
            }
            // A bare word: a value, or the name of a `name=value` / `name: value` parameter.
            let wordStart = i
            var isName = true
            var named = false
            while i < e {
                let c = b[i]
                if ASCII.isWhitespace(c) || closer(at: i, end: e, family: family) != nil { break }
                if opener(at: i, end: e, family: family) { return nil }
                if isName, i > wordStart, c == ASCII.equals || (c == ASCII.colon && isLiquidColon(i + 1, e, family)) {
                    named = true
                    break
                }
                if !isNameByte(c) { isName = false }
                i += 1
            }
            if !named, isName, i > wordStart {  // `name = value`
                var j = i
                while j < e, ASCII.isSpaceOrTab(b[j]) { j += 1 }
                if j + 1 < e, b[j] == ASCII.equals, b[j + 1] != ASCII.equals {
                    named = true
                    i = j
                }
            }
            guard named else {
                found.append(Parameter(name: nil, value: trimmedBare(wordStart..<i, family), quoted: false))
                continue
            }
            let name = wordStart..<i
            i += 1
            while i < e, ASCII.isSpaceOrTab(b[i]) { i += 1 }
            if i < e, isQuote(b[i], family: family) {
                guard let (value, after) = quoted(at: i, end: e, family: family) else { return nil }
                found.append(Parameter(name: trimmedName(name), value: value, quoted: true))
                i = after
                continue
            }
            let valueStart = i
            while i < e, !ASCII.isWhitespace(b[i]), closer(at: i, end: e, family: family) == nil {
                if opener(at: i, end: e, family: family) { return nil }
                i += 1
            }
            found.append(
                Parameter(name: trimmedName(name), value: trimmedBare(valueStart..<i, family), quoted: false))
        }
    }

    /// `name:` followed by a space or a quote is a YAML-style Liquid parameter (`path: x.jpg`); `https://` is not.
    private func isLiquidColon(_ next: Int, _ e: Int, _ family: Family) -> Bool {
        guard case .liquid = family, next < e else { return false }
        return ASCII.isWhitespace(b[next]) || b[next] == ASCII.quote || b[next] == ASCII.apostrophe
    }

    private func trimmedName(_ name: Range<Int>) -> Range<Int> {
        var n = name
        while n.upperBound > n.lowerBound, ASCII.isSpaceOrTab(b[n.upperBound - 1]) {
            n = n.lowerBound..<(n.upperBound - 1)
        }
        return n
    }

    /// A bare Liquid value loses a trailing comma (`{% image https://x/a.jpg, alt=x %}`).
    private func trimmedBare(_ value: Range<Int>, _ family: Family) -> Range<Int> {
        guard case .liquid = family, value.count > 1, b[value.upperBound - 1] == ASCII.comma else { return value }
        return value.lowerBound..<(value.upperBound - 1)
    }

    /// A quoted value at `i`: the bytes inside the quotes and the position after the closing one. A backslash
    /// escapes the next byte inside `"` and `'` (Hugo and Liquid strings); raw backtick strings have no escapes.
    private func quoted(at i: Int, end e: Int, family: Family) -> (Range<Int>, Int)? {
        let q = b[i]
        var j = i + 1
        while j < e {
            let c = b[j]
            if c == q { return ((i + 1)..<j, j + 1) }
            if opener(at: j, end: e, family: family) { return nil }
            j += c == ASCII.backslash && q != ASCII.backtick ? 2 : 1
        }
        return nil
    }
}
