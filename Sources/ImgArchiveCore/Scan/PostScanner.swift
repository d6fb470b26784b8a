import Foundation

/// What the scanner looks for, beyond the syntax it always reads.
public struct ScanOptions: Sendable {
    /// Front-matter fields that hold images; `a.b` names a nested field.
    public var frontMatterFields: [String]
    /// The rules that map CDN resize URLs to their originals and widths.
    public var cdnRules: CDNRules
    /// Template tags by name (a Hugo shortcode, a Liquid tag, a Jekyll include file such as `image.html`) and the
    /// parameters of each that hold images (positional ones are named `0`, `1`, ...). Any parameter of any tag
    /// whose value is a remote image URL is found without being named here.
    public var templates: [String: Set<String>]
    /// Report the targets of links to images (`[![](small)](full)`, `<a href>` around an `<img>`, a link to a
    /// `.png`) as `link-image` references.
    public var linkImages: Bool

    /// The front-matter image fields of the common Jekyll, Hexo and Hugo themes.
    public static let defaultFrontMatterFields = [
        "image", "images", "cover", "cover.image", "thumbnail", "header-img", "banner", "feature",
        "featured_image", "og_image", "index_img", "photos", "header.image", "header.teaser", "header.overlay_image",
    ]

    /// Hugo's `figure`, jekyll-responsive-image's `responsive_image` and the common Jekyll image includes.
    public static let defaultTemplates: [String: Set<String>] = [
        "figure": ["src"], "responsive_image": ["path"],
        "image.html": ["url", "src", "file", "image"], "figure.html": ["url", "src", "file", "image"],
        "img.html": ["url", "src", "file", "image"],
    ]

    /// Creates options; the defaults suit Jekyll, Hexo and Hugo sites.
    public init(
        frontMatterFields: [String] = ScanOptions.defaultFrontMatterFields, cdnRules: CDNRules = .builtIn,
        templates: [String: Set<String>] = ScanOptions.defaultTemplates, linkImages: Bool = true
    ) {
        self.frontMatterFields = frontMatterFields
        self.cdnRules = cdnRules
        self.templates = templates
        self.linkImages = linkImages
    }
}

/// Finds every image a post references, with the exact bytes of each URL. Parses; never guesses with regular
/// expressions. Safe to share between threads.
public struct PostScanner: Sendable {
    /// The options this scanner was made with.
    public let options: ScanOptions
    /// The front-matter fields and rules, indexed once rather than per post.
    private let frontMatterSelector: FrontMatterSelector

    /// What this scanner is, for a scan recorded to stand in for a later one: the executable (its size, times and
    /// inode: any other build scans with other code) and the options; nil when the executable cannot be told.
    public let fingerprint: String?

    /// Creates a scanner.
    public init(options: ScanOptions = ScanOptions()) {
        self.options = options
        frontMatterSelector = FrontMatterSelector(fields: options.frontMatterFields, rules: options.cdnRules)
        fingerprint = Self.fingerprint(options)
    }

    private static func fingerprint(_ options: ScanOptions) -> String? {
        guard let executable = FileStamp.of("/proc/self/exe") ?? Bundle.main.executablePath.flatMap(FileStamp.of),
            let rules = try? JSONEncoder.sorted.encode(options.cdnRules.rules)
        else { return nil }
        var text = "\(executable.size) \(executable.modified) \(executable.changed) \(executable.inode)\n"
        text += options.frontMatterFields.joined(separator: ",") + "\n\(options.linkImages)\n"
        for (name, parameters) in options.templates.sorted(by: { $0.key < $1.key }) {
            text += name + "=" + parameters.sorted().joined(separator: ",") + "\n"
        }
        // Two 64-bit FNV-1a hashes from different starts: not a digest against attacks, a name for a setup.
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x84_2225_cbf2_9ce4
        for byte in Array(text.utf8) + rules {
            a = (a ^ UInt64(byte)) &* 0x100_0000_01b3
            b = (b ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return String(a, radix: 16) + String(b, radix: 16)
    }

    /// Scans the bytes of one post. Any bytes at all: invalid UTF-8, CRLF or CR line endings and a BOM are fine.
    public func scan(_ bytes: [UInt8]) -> PostScan {
        bytes.withUnsafeBufferPointer { buffer in
            let b = ByteView(base: buffer)
            let contentStart = b.matches("\u{FEFF}", at: 0, end: b.count) ? 3 : 0
            let lines = LineTable(b, from: 0)
            let frontMatter = FrontMatter.read(
                b, lines: lines, contentStart: contentStart, selector: frontMatterSelector)
            var blocks = BlockPass(b: b, lines: lines)
            if frontMatter.bodyStart < b.count { blocks.run(from: frontMatter.bodyStart) }
            let templates = TemplateTags(b: b, templates: options.templates, cdnRules: options.cdnRules)
            var inline = InlinePass(
                b: b, content: blocks.content, definitions: blocks.definitions, templates: templates,
                linkImages: options.linkImages)
            for chunk in blocks.chunks { inline.scan(chunk) }
            inline.closeAnchor(atEnd: true)
            var raw = frontMatter.references + inline.found
            for label in inline.usedLabelOrder {
                guard let d = blocks.definitions[label] else { continue }
                raw.append(
                    RawReference(
                        kind: .markdownReference, span: d.span, pieces: d.pieces, wrapped: d.wrapped,
                        backslashEscapes: true, entities: true, hint: inline.usedLabels[label] ?? SizeHint()))
            }
            for label in inline.linkLabelOrder where inline.usedLabels[label] == nil {
                guard let d = blocks.definitions[label] else { continue }
                raw.append(
                    RawReference(
                        kind: .linkImage, span: d.span, pieces: d.pieces, wrapped: d.wrapped, backslashEscapes: true,
                        entities: true, hint: SizeHint(), needsImageSign: inline.linkLabels[label] != true))
            }
            raw.sort { $0.span.lowerBound < $1.span.lowerBound }
            var references: [ImageReference] = []
            references.reserveCapacity(raw.count)
            var lastEnd = -1
            var column = ColumnCursor()
            for r in raw where r.span.lowerBound >= lastEnd {  // one reference per span
                guard let reference = resolve(r, b, lines: lines, contentStart: contentStart, column: &column)
                else { continue }
                references.append(reference)
                lastEnd = max(r.span.upperBound, r.span.lowerBound + 1)
            }
            return PostScan(references: references, diagnostics: frontMatter.diagnostics)
        }
    }

    /// Where the last column was counted: references come in order, so counting goes on from there and many
    /// references on one long line cost one pass over it.
    private struct ColumnCursor {
        var line = -1
        var position = 0
        var column = 1
    }

    /// The reference `r` makes, or nil for a link target that is no image link (decided before the costlier
    /// work: most links in a post are links to pages). A link target is an image the post depends on when it has
    /// an image sign, or when it is a remote link around an image (the fetch then asks the server: a page is left
    /// alone); a local target needs an image extension.
    private func resolve(
        _ r: RawReference, _ b: ByteView, lines: LineTable, contentStart: Int, column cursor: inout ColumnCursor
    ) -> ImageReference? {
        // Decoding changes nothing without a `&` or `\`, the case of almost every URL: one piece of those is
        // resolved where it is.
        func plain(_ piece: Range<Int>) -> Bool {
            !(r.backslashEscapes || r.entities)
                || !b.base[piece].contains(where: { $0 == ASCII.ampersand || $0 == ASCII.backslash })
        }
        let resolved: URLText.Resolved
        if r.pieces.count == 1, plain(r.pieces[0]) {
            resolved = URLText.resolve(UnsafeBufferPointer(rebasing: b.base[r.pieces[0]]))
        } else {
            var decoded: [UInt8] = []
            decoded.reserveCapacity(r.span.count)
            for piece in r.pieces {
                if plain(piece) {
                    decoded += b.base[piece]
                } else {
                    decoded += URLText.decode(b.base[piece], backslashEscapes: r.backslashEscapes)
                }
            }
            resolved = URLText.resolve(decoded)
        }
        var cdn: CDNResolution?
        if r.kind == .linkImage {
            guard resolved.remote else {
                guard ImageFormat.hasImageExtension(url: resolved.url) else { return nil }
                return reference(r, b, resolved, cdn: nil, lines: lines, contentStart: contentStart, column: &cursor)
            }
            // `CDNRules.isImageURL` of a resolved remote URL, keeping the resolution it works out.
            if r.needsImageSign, !ImageFormat.hasImageExtension(url: resolved.url) {
                let resolution = options.cdnRules.resolve(resolved.url)
                guard resolution.rule != nil else { return nil }
                cdn = resolution
            }
        }
        return reference(r, b, resolved, cdn: cdn, lines: lines, contentStart: contentStart, column: &cursor)
    }

    /// Whether `string` is the text of `span` (most URLs are as written): then one String serves as both.
    private static func isText(of string: String, _ b: ByteView, _ span: Range<Int>) -> Bool {
        var string = string
        return string.withUTF8 { u in u.count == span.count && u.elementsEqual(b.base[span]) }
    }

    /// The reference for `r` with its URL resolved (and its CDN resolution, when already worked out).
    private func reference(
        _ r: RawReference, _ b: ByteView, _ resolved: URLText.Resolved, cdn known: CDNResolution?, lines: LineTable,
        contentStart: Int, column cursor: inout ColumnCursor
    ) -> ImageReference {
        var origin = resolved.url
        var width = r.hint.width
        var height = r.hint.height
        if resolved.remote {
            let cdn = known ?? options.cdnRules.resolve(resolved.url)
            origin = cdn.origin
            if width == nil, r.kind != .linkImage {  // a link target is shown full size: no thumbnail
                width = cdn.width
                height = height ?? cdn.height
            }
        }
        let lineIndex = lines.lineIndex(of: r.span.lowerBound, near: cursor.line)
        var i = lineIndex == 0 ? contentStart : lines.starts[lineIndex]
        var column = 1
        if cursor.line == lineIndex, cursor.position <= r.span.lowerBound, cursor.position >= i {
            i = cursor.position
            column = cursor.column
        }
        while i < r.span.lowerBound {
            if b[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        cursor = ColumnCursor(line: lineIndex, position: i, column: column)
        return ImageReference(
            kind: r.kind, range: r.span, line: lineIndex + 1, column: column,
            written: Self.isText(of: resolved.url, b, r.span) ? resolved.url : b.string(r.span),
            url: resolved.url, origin: origin, width: width, height: height, wrapped: r.wrapped,
            remote: resolved.remote)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys: the same value always gives the same bytes.
    fileprivate static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
